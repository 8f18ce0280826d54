//! The items added with a delay, ordered by when they are due. Which item waits under which
//! [`WaitKey`] is recorded by the queue with the item, so an item waits at most once (a later
//! add with an earlier due time moves it forward, a later one is ignored).

use std::collections::BTreeMap;

use tokio::time::Instant;

/// Where an item waits: its due time, and a sequence number that keeps equal due times in
/// add order.
pub(crate) type WaitKey = (Instant, u64);

/// Items waiting for their due time.
#[derive(Debug)]
pub(crate) struct Waiting<K> {
    by_due: BTreeMap<WaitKey, K>,
    next_seq: u64,
}

impl<K> Waiting<K> {
    pub(crate) fn new() -> Self {
        Waiting {
            by_due: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Adds `item` due at `due`. Returns its key, and whether the earliest due time of the
    /// set moved earlier.
    pub(crate) fn insert(&mut self, item: K, due: Instant) -> (WaitKey, bool) {
        let earlier = self.next_due().is_none_or(|first| due < first);
        let key = (due, self.next_seq);
        self.next_seq += 1;
        self.by_due.insert(key, item);
        (key, earlier)
    }

    /// Removes the item waiting under `key`.
    pub(crate) fn remove(&mut self, key: WaitKey) -> Option<K> {
        self.by_due.remove(&key)
    }

    /// The earliest due time.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.by_due.keys().next().map(|(due, _)| *due)
    }

    /// Removes and returns the earliest item when it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<K> {
        let entry = self.by_due.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    pub(crate) fn len(&self) -> usize {
        self.by_due.len()
    }

    /// Removes every item.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = K> {
        std::mem::take(&mut self.by_due).into_values()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ordered_by_due_then_add_order() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut w = Waiting::new();
        let (a, earlier) = w.insert("a", at(30));
        assert!(earlier);
        assert!(!w.insert("b", at(50)).1);
        assert!(w.insert("c", at(10)).1);
        assert_eq!(w.remove(a), Some("a"));
        assert_eq!(w.remove(a), None);
        assert!(!w.insert("a", at(20)).1);
        assert_eq!(w.len(), 3);
        assert_eq!(w.next_due(), Some(at(10)));
        assert_eq!(w.pop_due(at(9)), None);
        assert_eq!(w.pop_due(at(100)), Some("c"));
        assert_eq!(w.pop_due(at(100)), Some("a"));
        assert_eq!(w.pop_due(at(100)), Some("b"));
        assert_eq!(w.pop_due(at(100)), None);
        // Equal due times keep add order.
        w.insert("x", at(1));
        w.insert("y", at(1));
        assert_eq!(w.pop_due(at(1)), Some("x"));
        assert_eq!(w.drain().collect::<Vec<_>>(), ["y"]);
        assert_eq!(w.len(), 0);
        assert_eq!(w.next_due(), None);
    }
}
