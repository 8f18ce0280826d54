//! Test helper: the ways a body can arrive in chunks, for decoders fed as it streams in.

/// A small deterministic generator (xorshift), so failures reproduce.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `body` split at every single point, in 1-byte chunks, and in 20 random chunkings; each
/// with a name for assertion messages.
pub(crate) fn chunkings(body: &[u8]) -> Vec<(String, Vec<&[u8]>)> {
    let mut out: Vec<(String, Vec<&[u8]>)> = (0..=body.len())
        .map(|at| {
            let (a, b) = body.split_at(at);
            (format!("split at {at}"), vec![a, b])
        })
        .collect();
    out.push(("1-byte chunks".into(), body.chunks(1).collect()));
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ body.len() as u64);
    for round in 0..20 {
        let mut rest = body;
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let n = (1 + rng.below(40)).min(rest.len());
            let (c, r) = rest.split_at(n);
            chunks.push(c);
            rest = r;
        }
        out.push((format!("random chunks {round}"), chunks));
    }
    out
}
