//! Aggregation: identical events (same regarding and related objects, reason, action, type
//! and note) seen again within a window become one Event with a series count, written at
//! most once per update interval; new Events pass the spam filter first. No I/O here: the
//! recorder's task does the writes and tells this cache what the server has.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

use super::record::EventRecord;
use super::spam::SpamFilter;

/// What makes two events "the same".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EventKey {
    type_: &'static str,
    reason: String,
    action: String,
    note: String,
    regarding: [String; 6],
    related: Option<[String; 6]>,
}

fn reference_key(r: &ObjectReference) -> [String; 6] {
    let field = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        field(&r.api_version),
        field(&r.kind),
        field(&r.namespace),
        field(&r.name),
        field(&r.uid),
        field(&r.field_path),
    ]
}

impl EventKey {
    pub(crate) fn of(record: &EventRecord) -> Self {
        EventKey {
            type_: record.type_.as_str(),
            reason: record.reason.clone(),
            action: record.action.clone(),
            note: record.note.clone(),
            regarding: reference_key(&record.regarding),
            related: record.related.as_ref().map(reference_key),
        }
    }

    /// The spam filter's key: the object (the source is the recorder itself).
    fn object(&self) -> String {
        self.regarding.join("/")
    }
}

/// One Event on the server (or about to be) and how often it happened.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) record: EventRecord,
    /// The Event's name, once chosen.
    pub(crate) name: String,
    /// When it first happened.
    pub(crate) first_time: Timestamp,
    /// When it last happened.
    pub(crate) last_time: Timestamp,
    /// How often it happened.
    pub(crate) count: u32,
    /// The count the server has.
    pub(crate) written: u32,
    /// When it last happened, on the monotonic clock.
    pub(crate) last_seen: Instant,
    /// When it was last written (or a write was last attempted).
    pub(crate) last_write: Instant,
}

impl Series {
    /// A series that has happened once, at `at` / `time`, not yet written.
    pub(crate) fn first(record: EventRecord, at: Instant, time: Timestamp) -> Self {
        Series {
            record,
            name: String::new(),
            first_time: time,
            last_time: time,
            count: 1,
            written: 0,
            last_seen: at,
            last_write: at,
        }
    }

    fn dirty(&self) -> bool {
        self.count != self.written
    }
}

/// What became of an observed event.
// Returned once per event and matched at once: boxing the key would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Observed {
    /// A repeat: counted in its series.
    Repeat,
    /// New: the caller creates an Event and then calls [`Aggregator::insert`].
    New {
        /// The new series' key.
        key: EventKey,
        /// The finished series with the same key, if its last count was not written yet.
        finished: Option<Box<Series>>,
    },
    /// New, but the object's spam bucket is empty: dropped.
    Spam {
        /// As for `New`.
        finished: Option<Box<Series>>,
    },
}

/// The series seen within the window, the spam filter, and when work is next due.
#[derive(Debug)]
pub(crate) struct Aggregator {
    window: Duration,
    interval: Duration,
    series: HashMap<EventKey, Series>,
    spam: SpamFilter,
    next_wake: Option<Instant>,
}

impl Aggregator {
    /// Repeats within `window` of the last occurrence join a series; series updates are
    /// written at most every `interval`.
    pub(crate) fn new(window: Duration, interval: Duration, spam: SpamFilter) -> Self {
        Aggregator {
            window,
            interval,
            series: HashMap::new(),
            spam,
            next_wake: None,
        }
    }

    fn wake_at(&mut self, at: Instant) {
        self.next_wake = Some(self.next_wake.map_or(at, |w| w.min(at)));
    }

    /// Counts `record`, seen at `at` / `time`.
    pub(crate) fn observe(
        &mut self,
        record: &EventRecord,
        at: Instant,
        time: Timestamp,
    ) -> Observed {
        let key = EventKey::of(record);
        if let Some(s) = self.series.get_mut(&key) {
            if at.saturating_duration_since(s.last_seen) <= self.window {
                s.count = s.count.saturating_add(1);
                s.last_time = time.max(s.last_time);
                s.last_seen = at.max(s.last_seen);
                let due = s.last_write + self.interval;
                self.wake_at(due);
                return Observed::Repeat;
            }
        }
        // New, or too old to continue: a new Event starts. An unwritten count of the old
        // one is handed back to be written, so it is not lost.
        let finished = self.series.remove(&key).filter(Series::dirty).map(Box::new);
        if self.spam.allow(&key.object(), at) {
            Observed::New { key, finished }
        } else {
            Observed::Spam { finished }
        }
    }

    /// Remembers a series whose Event was just created (`series.written` set by the caller).
    pub(crate) fn insert(&mut self, key: EventKey, series: Series) {
        let expires = series.last_seen + self.window;
        self.series.insert(key, series);
        self.wake_at(expires);
    }

    /// The series whose count changed and whose last write is at least an interval ago
    /// (all changed ones when `all`).
    pub(crate) fn due(&self, now: Instant, all: bool) -> Vec<EventKey> {
        self.series
            .iter()
            .filter(|(_, s)| s.dirty() && (all || s.last_write + self.interval <= now))
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub(crate) fn get(&self, key: &EventKey) -> Option<&Series> {
        self.series.get(key)
    }

    /// Records a write attempt of `key` made at `now`: when it succeeded, the server has
    /// `count` (and the Event's name is `name`).
    pub(crate) fn written(&mut self, key: &EventKey, now: Instant, wrote: Option<(u32, String)>) {
        if let Some(s) = self.series.get_mut(key) {
            s.last_write = now;
            if let Some((count, name)) = wrote {
                s.written = count;
                s.name = name;
            }
            if s.dirty() {
                let due = now + self.interval;
                self.wake_at(due);
            }
        }
    }

    /// When something is next due (a series update or an expiry).
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        self.next_wake
    }

    /// Forgets finished series (unchanged and not seen for a window) and full spam buckets,
    /// and works out the next wake-up.
    pub(crate) fn prune(&mut self, now: Instant) {
        let window = self.window;
        self.series
            .retain(|_, s| s.dirty() || now.saturating_duration_since(s.last_seen) < window);
        self.spam.prune(now);
        self.next_wake = None;
        let wakes: Vec<Instant> = self
            .series
            .values()
            .map(|s| {
                if s.dirty() {
                    s.last_write + self.interval
                } else {
                    s.last_seen + window
                }
            })
            .collect();
        for w in wakes {
            self.wake_at(w);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::events::spam::{DEFAULT_SPAM_BURST, DEFAULT_SPAM_REFILL};

    fn pod(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some("ns".into()),
            name: Some(name.into()),
            ..Default::default()
        }
    }

    fn agg() -> Aggregator {
        Aggregator::new(
            Duration::from_secs(360),
            Duration::from_secs(30),
            SpamFilter::new(DEFAULT_SPAM_BURST, DEFAULT_SPAM_REFILL),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn repeats_become_a_series_written_per_interval() {
        let mut a = agg();
        let t0 = Instant::now();
        let now = Timestamp::now();
        let ev = EventRecord::normal("Synced", "Sync", pod("a")).note("ok");
        let Observed::New {
            key,
            finished: None,
        } = a.observe(&ev, t0, now)
        else {
            panic!("first is new")
        };
        let mut s = Series::first(ev.clone(), t0, now);
        s.written = 1;
        a.insert(key.clone(), s);
        for _ in 0..999 {
            assert!(matches!(a.observe(&ev, t0, now), Observed::Repeat));
        }
        assert_eq!(a.get(&key).unwrap().count, 1000);
        assert!(a.due(t0, false).is_empty(), "not before the interval");
        assert_eq!(a.due(t0, true), vec![key.clone()], "flush writes it");
        assert_eq!(a.next_wake(), Some(t0 + Duration::from_secs(30)));
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(a.due(t1, false), vec![key.clone()]);
        a.written(&key, t1, Some((1000, "a.1".into())));
        assert!(a.due(t1, true).is_empty());
        // A different note, reason or type is a different series.
        for other in [
            ev.clone().note("other"),
            EventRecord::normal("Other", "Sync", pod("a")).note("ok"),
            EventRecord::warning("Synced", "Sync", pod("a")).note("ok"),
            EventRecord::normal("Synced", "Sync", pod("b")).note("ok"),
        ] {
            assert!(matches!(a.observe(&other, t1, now), Observed::New { .. }));
        }
        // Past the window the series is finished: the next one is new.
        let late = t1 + Duration::from_secs(361);
        a.prune(late);
        assert_eq!(a.len(), 0);
        assert!(matches!(a.observe(&ev, late, now), Observed::New { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn new_events_per_object_are_spam_filtered() {
        let mut a = agg();
        let t0 = Instant::now();
        let now = Timestamp::now();
        let mut new = 0;
        let mut spam = 0;
        for i in 0..40 {
            let ev = EventRecord::normal("Tick", "Count", pod("hot")).note(format!("{i}"));
            match a.observe(&ev, t0, now) {
                Observed::New { .. } => new += 1,
                Observed::Spam { .. } => spam += 1,
                Observed::Repeat => unreachable!(),
            }
        }
        assert_eq!((new, spam), (25, 15));
        let ev = EventRecord::normal("Tick", "Count", pod("cold"));
        assert!(matches!(a.observe(&ev, t0, now), Observed::New { .. }));
    }
}
