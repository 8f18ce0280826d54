//! The items added with a delay, ordered by when they are due; an item waits at most once
//! (a later add with an earlier due time moves it forward, a later one is ignored).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use tokio::time::Instant;

/// Items waiting for their due time.
#[derive(Debug)]
pub(crate) struct Waiting<T> {
    /// (due, sequence number) -> item; the sequence keeps equal due times in add order.
    by_due: BTreeMap<(Instant, u64), T>,
    index: HashMap<T, (Instant, u64)>,
    next_seq: u64,
}

impl<T: Clone + Eq + Hash> Waiting<T> {
    pub(crate) fn new() -> Self {
        Waiting {
            by_due: BTreeMap::new(),
            index: HashMap::new(),
            next_seq: 0,
        }
    }

    /// Adds `item` due at `due`, or moves it earlier when it already waits for longer.
    /// Returns whether the earliest due time of the set moved earlier.
    pub(crate) fn insert(&mut self, item: T, due: Instant) -> bool {
        if let Some(&(old_due, seq)) = self.index.get(&item) {
            if due >= old_due {
                return false;
            }
            self.by_due.remove(&(old_due, seq));
        }
        let earlier = self.next_due().is_none_or(|first| due < first);
        let key = (due, self.next_seq);
        self.next_seq += 1;
        self.index.insert(item.clone(), key);
        self.by_due.insert(key, item);
        earlier
    }

    /// The earliest due time.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.by_due.keys().next().map(|(due, _)| *due)
    }

    /// Removes and returns the earliest item when it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        let (&key, _) = self.by_due.iter().next()?;
        if key.0 > now {
            return None;
        }
        let item = self.by_due.remove(&key)?;
        self.index.remove(&item);
        Some(item)
    }
}

impl<T> Waiting<T> {
    pub(crate) fn len(&self) -> usize {
        self.by_due.len()
    }

    pub(crate) fn clear(&mut self) {
        self.by_due.clear();
        self.index.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ordered_by_due_and_earlier_wins() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut w = Waiting::new();
        assert!(w.insert("a", at(30)));
        assert!(!w.insert("b", at(50)));
        assert!(w.insert("c", at(10)));
        // A later due time for a waiting item is ignored, an earlier one wins.
        assert!(!w.insert("a", at(40)));
        assert!(w.insert("b", at(5)));
        assert_eq!(w.len(), 3);
        assert_eq!(w.next_due(), Some(at(5)));
        assert_eq!(w.pop_due(at(4)), None);
        assert_eq!(w.pop_due(at(100)), Some("b"));
        assert_eq!(w.pop_due(at(100)), Some("c"));
        assert_eq!(w.pop_due(at(100)), Some("a"));
        assert_eq!(w.pop_due(at(100)), None);
        // Equal due times keep add order.
        w.insert("x", at(1));
        w.insert("y", at(1));
        assert_eq!(w.pop_due(at(1)), Some("x"));
        w.clear();
        assert_eq!(w.len(), 0);
    }
}
