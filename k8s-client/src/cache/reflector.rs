//! The reflector: keeps a local copy of a collection in sync with the server.
//!
//! It lists (in pages of 500) and then watches from the list's resourceVersion, or, where the
//! server supports it, opens one **streaming watch-list** (`sendInitialEvents=true`) whose
//! initial events end with a bookmark annotated `k8s.io/initial-events-end`, falling back to
//! list+watch when the server refuses (Kubernetes 1.33 answers `422 Invalid`). It follows
//! bookmarks, resumes every watch from the last resourceVersion it saw, asks the server for
//! randomized watch timeouts (5-10 minutes), relists on `410 Gone` / `Expired`, and backs
//! off with jitter (800 ms to 30 s, reset after 2 healthy minutes) on errors.
//!
//! The logic is the pure state machine [`Machine`]: it says what to do next
//! ([`Machine::next_step`]) and turns what happened into store operations ([`Output`]); the
//! async loop that a [`SharedInformer`](super::SharedInformer) runs only performs the I/O. A relist is an [`Output::Replace`], which the
//! store diffs against what it had, so objects deleted while the watch was down are
//! reported.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;

use crate::api::{ListParams, Object, ObjectList, ResourceVersionMatch, WatchEvent, WatchParams};
use crate::backoff::{Backoff, Waits};
use crate::error::{Error, Result};

use super::source::ListWatch;

/// The reflector's backoff on errors, as client-go's: 800 ms doubling to 30 s (jitter
/// included), up to 100% jitter, starting over after 2 minutes without errors.
pub fn reflector_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(800))
        .jitter(1.0)
        .cap(Duration::from_secs(30))
        .reset_after(Duration::from_secs(120))
}

/// Whether the reflector uses streaming watch-lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WatchListMode {
    /// Use a streaming watch-list where the server supports it, list+watch otherwise
    /// (the default).
    #[default]
    Auto,
    /// Always list (in pages) and then watch.
    Off,
}

/// What the reflector is configured with. [`Default`] gives client-go's settings; change the
/// fields from there.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReflectorConfig {
    /// Label selector of the list and watch.
    pub label_selector: Option<String>,
    /// Field selector of the list and watch.
    pub field_selector: Option<String>,
    /// Page size of lists (client-go: 500).
    pub page_size: u32,
    /// Streaming watch-list or not.
    pub watch_list: WatchListMode,
    /// Watches ask the server to end them after a random time between this and twice this
    /// (client-go: 5 minutes).
    pub min_watch_timeout: Duration,
}

impl Default for ReflectorConfig {
    fn default() -> Self {
        ReflectorConfig {
            label_selector: None,
            field_selector: None,
            page_size: 500,
            watch_list: WatchListMode::Auto,
            min_watch_timeout: Duration::from_secs(300),
        }
    }
}

/// Counters of what a reflector did, for tests, metrics and debugging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReflectorStats {
    /// Complete lists (paginated or streaming) that replaced the store.
    pub lists: u64,
    /// Of those, streaming watch-lists.
    pub streaming_lists: u64,
    /// Times the server refused a streaming watch-list, so list+watch was used instead.
    pub streaming_refused: u64,
    /// List pages received.
    pub list_pages: u64,
    /// Watches opened.
    pub watches: u64,
    /// `410 Gone` / `Expired` answers (too old resourceVersion) that led to a relist.
    pub expired: u64,
    /// Other errors (each followed by a backoff).
    pub errors: u64,
    /// Objects left out because the informer's transform panicked on them (each logged at
    /// error level with the object's key; the change it carried is not cached).
    pub transform_panics: u64,
    /// Events on which an event handler panicked (each logged at error level; the handler
    /// goes on with the next event).
    pub handler_panics: u64,
    /// Times an index function panicked (each logged at error level; the object is left
    /// out of that index).
    pub index_panics: u64,
    /// The last resourceVersion the reflector has seen.
    pub resource_version: String,
}

/// The live counters behind [`ReflectorStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    lists: AtomicU64,
    streaming_lists: AtomicU64,
    streaming_refused: AtomicU64,
    list_pages: AtomicU64,
    watches: AtomicU64,
    expired: AtomicU64,
    errors: AtomicU64,
    pub(crate) transform_panics: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
    resource_version: Mutex<String>,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ReflectorStats {
        ReflectorStats {
            lists: self.lists.load(Ordering::Relaxed),
            streaming_lists: self.streaming_lists.load(Ordering::Relaxed),
            streaming_refused: self.streaming_refused.load(Ordering::Relaxed),
            list_pages: self.list_pages.load(Ordering::Relaxed),
            watches: self.watches.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            transform_panics: self.transform_panics.load(Ordering::Relaxed),
            handler_panics: self.handler_panics.load(Ordering::Relaxed),
            index_panics: 0,
            resource_version: self
                .resource_version
                .lock()
                .map(|rv| rv.clone())
                .unwrap_or_default(),
        }
    }
}

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// List one page with these parameters and report it with [`Machine::on_list`].
    List(ListParams),
    /// Open a watch and report it with [`Machine::on_watch_opened`] or
    /// [`Machine::on_watch_failed`], then each event with [`Machine::on_event`] while
    /// [`Machine::is_watching`], and the end with [`Machine::on_watch_ended`].
    Watch {
        /// The watch parameters (a streaming list when `send_initial_events` is set).
        params: WatchParams,
        /// The resourceVersion to watch from.
        resource_version: String,
    },
    /// Wait this long (backoff), then call [`Machine::next_step`] again.
    Wait(Duration),
}

/// What the store should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output<K> {
    /// Replace everything with these objects (a complete list at `resource_version`).
    Replace {
        /// The objects.
        items: Vec<K>,
        /// The list's resourceVersion.
        resource_version: String,
    },
    /// Add or update this object.
    Apply(K),
    /// Delete this object (its final state).
    Delete(K),
}

#[derive(Debug)]
enum Phase<K> {
    /// A (re)list is due: streaming or paginated.
    NeedList,
    /// A paginated list is under way.
    Listing {
        items: Vec<K>,
        continue_token: Option<String>,
    },
    /// A watch is due from `rv`.
    NeedWatch,
    /// A streaming list's initial events are arriving.
    StreamingInitial { items: Vec<K> },
    /// A watch is delivering changes.
    Watching,
    /// A backoff is due; then `then`.
    Backoff(Duration, Box<Phase<K>>),
}

/// The reflector's state machine. See the [module docs](self).
#[derive(Debug)]
pub struct Machine<K> {
    config: ReflectorConfig,
    phase: Phase<K>,
    /// The resourceVersion of the last list, event or bookmark.
    resource_version: String,
    /// The last resourceVersion is known to be too old: list from the newest ("").
    resource_version_expired: bool,
    /// The server refused a streaming list: use list+watch from now on.
    streaming_refused: bool,
    /// Use a paginated list for the next list only (a streaming list just failed).
    list_once: bool,
    backoff: Waits,
    counters: Arc<Counters>,
}

impl<K: Object> Machine<K> {
    /// A machine that starts with a list.
    pub fn new(config: ReflectorConfig) -> Self {
        Machine::with_counters(config, Arc::default())
    }

    pub(crate) fn with_counters(config: ReflectorConfig, counters: Arc<Counters>) -> Self {
        Machine {
            config,
            phase: Phase::NeedList,
            resource_version: String::new(),
            resource_version_expired: false,
            streaming_refused: false,
            list_once: false,
            backoff: reflector_backoff().waits(),
            counters,
        }
    }

    /// Whether objects arriving now are collected for a coming [`Output::Replace`] (a list
    /// page, or the initial events of a streaming list) rather than passed on one by one.
    pub fn is_collecting(&self) -> bool {
        matches!(
            self.phase,
            Phase::NeedList | Phase::Listing { .. } | Phase::StreamingInitial { .. }
        )
    }

    /// What this machine counted.
    pub fn stats(&self) -> ReflectorStats {
        self.counters.snapshot()
    }

    /// The last resourceVersion seen (of a list, event or bookmark).
    pub fn resource_version(&self) -> &str {
        &self.resource_version
    }

    /// Whether a watch is open and its events are wanted.
    pub fn is_watching(&self) -> bool {
        matches!(self.phase, Phase::Watching | Phase::StreamingInitial { .. })
    }

    fn set_rv(&mut self, rv: &str) {
        if rv.is_empty() {
            return;
        }
        self.resource_version = rv.to_string();
        if let Ok(mut shown) = self.counters.resource_version.lock() {
            shown.clear();
            shown.push_str(rv);
        }
    }

    fn use_streaming(&self) -> bool {
        self.config.watch_list == WatchListMode::Auto && !self.streaming_refused && !self.list_once
    }

    /// The resourceVersion a relist asks for (client-go's `relistResourceVersion`): `"0"`
    /// (any, from the cache) at first, the last one seen afterwards, `""` (the newest) once
    /// that is known to be too old.
    fn relist_rv(&self) -> &str {
        if self.resource_version_expired {
            ""
        } else if self.resource_version.is_empty() {
            "0"
        } else {
            &self.resource_version
        }
    }

    fn watch_params(&self) -> WatchParams {
        let min = self.config.min_watch_timeout.as_secs().max(1);
        let timeout = min + (rand::random::<f64>() * min as f64) as u64;
        WatchParams {
            label_selector: self.config.label_selector.clone(),
            field_selector: self.config.field_selector.clone(),
            timeout_seconds: Some(u32::try_from(timeout).unwrap_or(u32::MAX)),
            bookmarks: true,
            send_initial_events: false,
        }
    }

    /// What to do next.
    pub fn next_step(&mut self) -> Step {
        loop {
            match std::mem::replace(&mut self.phase, Phase::NeedList) {
                Phase::Backoff(delay, then) => {
                    self.phase = *then;
                    return Step::Wait(delay);
                }
                Phase::NeedList if self.use_streaming() => {
                    let rv = match self.relist_rv() {
                        "0" => String::new(),
                        rv => rv.to_string(),
                    };
                    self.phase = Phase::StreamingInitial { items: Vec::new() };
                    let mut params = self.watch_params();
                    params.send_initial_events = true;
                    return Step::Watch {
                        params,
                        resource_version: rv,
                    };
                }
                Phase::NeedList => {
                    self.list_once = false;
                    self.phase = Phase::Listing {
                        items: Vec::new(),
                        continue_token: None,
                    };
                }
                Phase::Listing {
                    items,
                    continue_token,
                } => {
                    let mut params = ListParams {
                        label_selector: self.config.label_selector.clone(),
                        field_selector: self.config.field_selector.clone(),
                        limit: Some(self.config.page_size),
                        ..ListParams::default()
                    };
                    match &continue_token {
                        Some(token) => params.continue_token = Some(token.clone()),
                        None => {
                            let rv = self.relist_rv().to_string();
                            if !rv.is_empty() {
                                if rv != "0" {
                                    params.resource_version_match =
                                        Some(ResourceVersionMatch::NotOlderThan);
                                }
                                params.resource_version = Some(rv);
                            }
                        }
                    }
                    self.phase = Phase::Listing {
                        items,
                        continue_token,
                    };
                    return Step::List(params);
                }
                Phase::NeedWatch => {
                    self.phase = Phase::Watching;
                    return Step::Watch {
                        params: self.watch_params(),
                        resource_version: self.resource_version.clone(),
                    };
                }
                phase @ (Phase::Watching | Phase::StreamingInitial { .. }) => {
                    // The driver asked again without reporting the watch's end: treat it as
                    // ended.
                    self.phase = phase;
                    self.on_watch_ended();
                }
            }
        }
    }

    fn backoff_then(&mut self, then: Phase<K>) {
        Counters::bump(&self.counters.errors);
        let delay = self.backoff.next_wait();
        self.phase = Phase::Backoff(delay, Box::new(then));
    }

    /// Reports a list page (already transformed). Returns the replace when it was the last
    /// page.
    pub fn on_list(&mut self, page: Result<ObjectList<K>>) -> Option<Output<K>> {
        let Phase::Listing {
            mut items,
            continue_token,
        } = std::mem::replace(&mut self.phase, Phase::NeedList)
        else {
            return None;
        };
        match page {
            Ok(page) => {
                Counters::bump(&self.counters.list_pages);
                let next = page.continue_token().map(String::from);
                let rv = page.resource_version().unwrap_or_default().to_string();
                items.extend(page.items);
                if let Some(token) = next {
                    if continue_token.as_deref() == Some(token.as_str()) {
                        // A server that repeats its token would be asked for pages forever.
                        tracing::warn!("the server repeated its list continue token: listing again after a backoff");
                        self.list_once = true;
                        self.backoff_then(Phase::NeedList);
                        return None;
                    }
                    self.phase = Phase::Listing {
                        items,
                        continue_token: Some(token),
                    };
                    return None;
                }
                Counters::bump(&self.counters.lists);
                self.set_rv(&rv);
                self.resource_version_expired = false;
                self.phase = Phase::NeedWatch;
                Some(Output::Replace {
                    items,
                    resource_version: rv,
                })
            }
            Err(e) if e.is_gone() => {
                // The resourceVersion (or the continue token) is too old: list the newest.
                tracing::debug!(error = %e, "list expired, listing again from the newest");
                Counters::bump(&self.counters.expired);
                self.resource_version_expired = true;
                self.list_once = continue_token.is_some() || self.list_once;
                self.phase = Phase::NeedList;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "list failed, retrying after a backoff");
                self.list_once = true;
                self.backoff_then(Phase::NeedList);
                None
            }
        }
    }

    /// Reports that the watch of the last [`Step::Watch`] is open.
    pub fn on_watch_opened(&mut self) {
        Counters::bump(&self.counters.watches);
    }

    /// Reports that the watch of the last [`Step::Watch`] could not be opened.
    pub fn on_watch_failed(&mut self, error: &Error) {
        let streaming = matches!(self.phase, Phase::StreamingInitial { .. });
        if streaming {
            if error.is_invalid() || matches!(error.api(), Some(e) if e.code == 400) {
                tracing::info!(error = %error, "the server refuses streaming lists; using list+watch");
                Counters::bump(&self.counters.streaming_refused);
                self.streaming_refused = true;
                self.phase = Phase::NeedList;
            } else {
                // client-go falls back to a paginated list for this round on any error.
                tracing::warn!(error = %error, "streaming list failed; listing instead");
                self.list_once = true;
                if error.is_gone() {
                    Counters::bump(&self.counters.expired);
                    self.resource_version_expired = true;
                    self.phase = Phase::NeedList;
                } else {
                    self.backoff_then(Phase::NeedList);
                }
            }
            return;
        }
        if error.is_gone() {
            tracing::debug!(error = %error, "watch expired, relisting");
            Counters::bump(&self.counters.expired);
            self.phase = Phase::NeedList;
            return;
        }
        let retry_watch = matches!(error, Error::Transport(_) | Error::Timeout(_))
            || error.is_too_many_requests()
            || matches!(error.api(), Some(e) if e.code >= 500);
        tracing::warn!(error = %error, retry_watch, "watch failed, retrying after a backoff");
        let then = if retry_watch {
            Phase::NeedWatch
        } else {
            Phase::NeedList
        };
        self.backoff_then(then);
    }

    /// Reports one item of the open watch (objects already transformed). Returns what the
    /// store should do, if anything. After an error [`is_watching`](Self::is_watching) is
    /// false and the watch should be dropped.
    pub fn on_event(&mut self, event: Result<WatchEvent<K>>) -> Option<Output<K>> {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(error = %e, "watch stream failed");
                self.watch_broken();
                return None;
            }
        };
        if let Phase::StreamingInitial { items } = &mut self.phase {
            match event {
                WatchEvent::Added(obj) => {
                    items.push(obj);
                    return None;
                }
                // Rare before the end bookmark: a linear scan for the key is fine.
                WatchEvent::Modified(obj) => {
                    let key = obj.key();
                    match items.iter_mut().find(|o| o.key() == key) {
                        Some(slot) => *slot = obj,
                        None => items.push(obj),
                    }
                    return None;
                }
                WatchEvent::Deleted(obj) => {
                    let key = obj.key();
                    items.retain(|o| o.key() != key);
                    return None;
                }
                WatchEvent::Bookmark(b) if b.is_initial_events_end() => {
                    let items = std::mem::take(items);
                    Counters::bump(&self.counters.lists);
                    Counters::bump(&self.counters.streaming_lists);
                    self.set_rv(&b.resource_version);
                    self.resource_version_expired = false;
                    self.phase = Phase::Watching;
                    return Some(Output::Replace {
                        items,
                        resource_version: b.resource_version,
                    });
                }
                WatchEvent::Bookmark(_) => return None,
                WatchEvent::Error(status) => {
                    self.on_error_event(status);
                    self.list_once = true;
                    return None;
                }
            }
        }
        if !matches!(self.phase, Phase::Watching) {
            return None;
        }
        match event {
            WatchEvent::Added(obj) | WatchEvent::Modified(obj) => {
                self.set_rv(obj.resource_version().unwrap_or_default());
                Some(Output::Apply(obj))
            }
            WatchEvent::Deleted(obj) => {
                self.set_rv(obj.resource_version().unwrap_or_default());
                Some(Output::Delete(obj))
            }
            WatchEvent::Bookmark(b) => {
                self.set_rv(&b.resource_version);
                None
            }
            WatchEvent::Error(status) => {
                self.on_error_event(status);
                None
            }
        }
    }

    fn on_error_event(&mut self, status: crate::error::Status) {
        let err: Error = crate::error::ApiError {
            code: status
                .code
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500),
            status,
        }
        .into();
        if err.is_gone() {
            tracing::debug!(error = %err, "watch expired, relisting");
            Counters::bump(&self.counters.expired);
            self.phase = Phase::NeedList;
        } else {
            tracing::warn!(error = %err, "watch ended with an error, relisting after a backoff");
            self.backoff_then(Phase::NeedList);
        }
    }

    fn watch_broken(&mut self) {
        match self.phase {
            Phase::StreamingInitial { .. } => {
                self.list_once = true;
                self.backoff_then(Phase::NeedList);
            }
            Phase::Watching => self.backoff_then(Phase::NeedWatch),
            _ => {}
        }
    }

    /// Reports that the open watch ended (the server closed it, or the stream ran dry).
    pub fn on_watch_ended(&mut self) {
        match self.phase {
            // Ended before the initial events were complete: list instead this time.
            Phase::StreamingInitial { .. } => {
                self.list_once = true;
                self.phase = Phase::NeedList;
            }
            Phase::Watching => self.phase = Phase::NeedWatch,
            _ => {}
        }
    }
}

/// Runs a reflector over `source` until the task is dropped, handing every store operation
/// to `sink`. Every object is first turned into what is kept by `hold`, which is told whether
/// the object is collected for a whole-list replace (`true`: a list page or the initial
/// events of a streaming list) or passed on alone (`false`: a change while watching); a
/// compact informer packs collected objects at once, so a large list is never held decoded.
/// An object `hold` turns into `None` (its transform panicked: logged and counted there) is
/// left out: of its list page, or with the watch event that carried it.
pub(crate) async fn run<S, T, H, F>(
    source: S,
    config: ReflectorConfig,
    hold: H,
    counters: Arc<Counters>,
    mut sink: F,
) where
    S: ListWatch,
    T: Object,
    H: Fn(S::Object, bool) -> Option<T>,
    F: FnMut(Output<T>),
{
    let what = source.describe();
    let mut machine = Machine::<T>::with_counters(config, counters);
    loop {
        match machine.next_step() {
            Step::Wait(delay) => {
                tracing::debug!(%what, ?delay, "reflector backing off");
                tokio::time::sleep(delay).await;
            }
            Step::List(params) => {
                let page = source.list(&params).await.map(|page| ObjectList {
                    metadata: page.metadata,
                    items: page
                        .items
                        .into_iter()
                        .filter_map(|o| hold(o, true))
                        .collect(),
                });
                if let Some(out) = machine.on_list(page) {
                    sink(out);
                }
            }
            Step::Watch {
                params,
                resource_version,
            } => {
                let mut events = match source.watch(&params, &resource_version).await {
                    Ok(events) => events,
                    Err(e) => {
                        tracing::debug!(%what, error = %e, "opening the watch failed");
                        machine.on_watch_failed(&e);
                        continue;
                    }
                };
                machine.on_watch_opened();
                while machine.is_watching() {
                    let Some(item) = events.next().await else {
                        machine.on_watch_ended();
                        break;
                    };
                    let collecting = machine.is_collecting();
                    let item = match item {
                        Ok(ev) => match ev.try_map_object(|o| hold(o, collecting).ok_or(())) {
                            Ok(ev) => Ok(ev),
                            Err(()) => continue,
                        },
                        Err(e) => Err(e),
                    };
                    if let Some(out) = machine.on_event(item) {
                        sink(out);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;
    use crate::api::{Bookmark, INITIAL_EVENTS_END_ANNOTATION};
    use crate::error::{ApiError, Status};

    fn cm(name: &str, rv: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("ns".into());
        c.metadata.resource_version = Some(rv.into());
        c
    }

    fn page(items: Vec<ConfigMap>, rv: &str, cont: Option<&str>) -> ObjectList<ConfigMap> {
        let mut l = ObjectList {
            items,
            ..ObjectList::default()
        };
        l.metadata.resource_version = Some(rv.into());
        l.metadata.continue_ = cont.map(String::from);
        l
    }

    fn api_err(code: u16, reason: &str) -> Error {
        ApiError {
            code,
            status: Status {
                code: Some(code.into()),
                reason: Some(reason.into()),
                message: Some(format!("{reason} for testing")),
                ..Status::default()
            },
        }
        .into()
    }

    fn bookmark(rv: &str, end: bool) -> WatchEvent<ConfigMap> {
        let mut annotations = BTreeMap::new();
        if end {
            annotations.insert(
                INITIAL_EVENTS_END_ANNOTATION.to_string(),
                "true".to_string(),
            );
        }
        WatchEvent::Bookmark(Bookmark {
            resource_version: rv.into(),
            annotations,
        })
    }

    fn list_mode() -> Machine<ConfigMap> {
        Machine::new(ReflectorConfig {
            watch_list: WatchListMode::Off,
            ..ReflectorConfig::default()
        })
    }

    fn expect_list(m: &mut Machine<ConfigMap>) -> ListParams {
        match m.next_step() {
            Step::List(p) => p,
            other => panic!("expected a list, got {other:?}"),
        }
    }

    fn expect_watch(m: &mut Machine<ConfigMap>) -> (WatchParams, String) {
        match m.next_step() {
            Step::Watch {
                params,
                resource_version,
            } => (params, resource_version),
            other => panic!("expected a watch, got {other:?}"),
        }
    }

    fn expect_wait(m: &mut Machine<ConfigMap>) -> Duration {
        match m.next_step() {
            Step::Wait(d) => d,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn a_repeated_continue_token_fails_the_list() {
        let mut m = list_mode();
        expect_list(&mut m);
        assert!(m
            .on_list(Ok(page(vec![cm("a", "1")], "10", Some("tok"))))
            .is_none());
        expect_list(&mut m);
        // The same token again: not another page request, but a backoff and a fresh list.
        assert!(m
            .on_list(Ok(page(vec![cm("a", "1")], "10", Some("tok"))))
            .is_none());
        expect_wait(&mut m);
        let p = expect_list(&mut m);
        assert_eq!(p.continue_token, None);
    }

    #[test]
    fn paginated_list_then_watch_from_the_list_rv() {
        let mut m = list_mode();
        let p = expect_list(&mut m);
        assert_eq!(p.limit, Some(500));
        assert_eq!(p.resource_version.as_deref(), Some("0"));
        assert_eq!(p.resource_version_match, None);
        assert!(m
            .on_list(Ok(page(vec![cm("a", "1")], "10", Some("tok"))))
            .is_none());
        let p = expect_list(&mut m);
        assert_eq!(p.continue_token.as_deref(), Some("tok"));
        assert_eq!(p.resource_version, None);
        match m.on_list(Ok(page(vec![cm("b", "2")], "10", None))) {
            Some(Output::Replace {
                items,
                resource_version,
            }) => {
                assert_eq!(items.len(), 2);
                assert_eq!(resource_version, "10");
            }
            other => panic!("{other:?}"),
        }
        let (params, rv) = expect_watch(&mut m);
        assert_eq!(rv, "10");
        assert!(params.bookmarks);
        let t = params.timeout_seconds.unwrap();
        assert!((300..600).contains(&t), "{t}");
        m.on_watch_opened();
        assert!(m.is_watching());
        assert_eq!(m.stats().lists, 1);
        assert_eq!(m.stats().list_pages, 2);
    }

    #[test]
    fn watch_events_and_bookmarks_advance_the_resource_version() {
        let mut m = list_mode();
        expect_list(&mut m);
        m.on_list(Ok(page(vec![], "10", None)));
        expect_watch(&mut m);
        assert_eq!(
            m.on_event(Ok(WatchEvent::Added(cm("a", "11")))),
            Some(Output::Apply(cm("a", "11")))
        );
        assert_eq!(m.on_event(Ok(bookmark("15", false))), None);
        assert_eq!(m.resource_version(), "15");
        assert_eq!(
            m.on_event(Ok(WatchEvent::Deleted(cm("a", "16")))),
            Some(Output::Delete(cm("a", "16")))
        );
        m.on_watch_ended();
        // A watch that ends cleanly is reopened from the last resourceVersion, at once.
        let (_, rv) = expect_watch(&mut m);
        assert_eq!(rv, "16");
        assert_eq!(m.stats().resource_version, "16");
    }

    #[test]
    fn expired_watch_relists_from_the_last_rv_then_from_the_newest() {
        let mut m = list_mode();
        expect_list(&mut m);
        m.on_list(Ok(page(vec![cm("a", "5")], "10", None)));
        expect_watch(&mut m);
        m.on_watch_opened();
        m.on_event(Ok(WatchEvent::Error(Status {
            code: Some(410),
            reason: Some("Expired".into()),
            message: Some("too old resource version: 10 (20)".into()),
            ..Status::default()
        })));
        assert!(!m.is_watching());
        assert_eq!(m.stats().expired, 1);
        // Relist at once, not older than what we had.
        let p = expect_list(&mut m);
        assert_eq!(p.resource_version.as_deref(), Some("10"));
        assert_eq!(
            p.resource_version_match,
            Some(ResourceVersionMatch::NotOlderThan)
        );
        // That is too old as well: list the newest.
        m.on_list(Err(api_err(410, "Expired")));
        let p = expect_list(&mut m);
        assert_eq!(p.resource_version, None);
        m.on_list(Ok(page(vec![], "30", None)));
        // A 410 on opening the watch relists too.
        expect_watch(&mut m);
        m.on_watch_failed(&api_err(410, "Gone"));
        let p = expect_list(&mut m);
        assert_eq!(p.resource_version.as_deref(), Some("30"));
        assert_eq!(m.stats().expired, 3);
    }

    #[test]
    fn errors_back_off_and_retry_the_watch_or_the_list() {
        let mut m = list_mode();
        expect_list(&mut m);
        m.on_list(Err(api_err(500, "InternalError")));
        let d = expect_wait(&mut m);
        assert!(d >= Duration::from_millis(800), "{d:?}");
        expect_list(&mut m);
        m.on_list(Ok(page(vec![], "10", None)));
        expect_watch(&mut m);
        m.on_watch_failed(&api_err(503, "ServiceUnavailable"));
        let d2 = expect_wait(&mut m);
        assert!(d2 >= Duration::from_millis(1600), "{d2:?}");
        let (_, rv) = expect_watch(&mut m);
        assert_eq!(rv, "10");
        m.on_watch_opened();
        m.on_event(Err(Error::Request(crate::error::RequestError::new(
            "connection reset",
        ))));
        assert!(!m.is_watching());
        expect_wait(&mut m);
        let (_, rv) = expect_watch(&mut m);
        assert_eq!(rv, "10");
        // A forbidden watch relists (after a backoff).
        m.on_watch_failed(&api_err(403, "Forbidden"));
        expect_wait(&mut m);
        expect_list(&mut m);
        assert_eq!(m.stats().errors, 4);
    }

    #[test]
    fn relist_after_expiry_reports_objects_deleted_meanwhile() {
        use super::super::store::{Change, StoreWriter};
        let store = StoreWriter::new();
        let apply = |out: Output<ConfigMap>| match out {
            Output::Replace { items, .. } => store.replace(items),
            Output::Apply(o) => vec![store.apply(o)],
            Output::Delete(o) => store.delete(o).into_iter().collect(),
        };
        let mut m = list_mode();
        expect_list(&mut m);
        apply(
            m.on_list(Ok(page(vec![cm("a", "1"), cm("b", "2")], "10", None)))
                .unwrap(),
        );
        expect_watch(&mut m);
        m.on_watch_failed(&api_err(410, "Expired"));
        expect_list(&mut m);
        let changes = apply(
            m.on_list(Ok(page(vec![cm("b", "12"), cm("c", "13")], "20", None)))
                .unwrap(),
        );
        let mut seen: Vec<String> = changes
            .iter()
            .map(|c| match c {
                Change::Added(o) => format!("add {}", o.key()),
                Change::Updated { new, .. } => format!("update {}", new.key()),
                Change::Deleted(o) => format!("delete {}", o.key()),
                Change::Vanished { key, .. } => format!("vanished {key}"),
            })
            .collect();
        seen.sort();
        assert_eq!(seen, ["add ns/c", "update ns/b", "vanished ns/a"]);
    }

    #[test]
    fn streaming_list_collects_until_the_end_bookmark() {
        let mut m: Machine<ConfigMap> = Machine::new(ReflectorConfig::default());
        let (params, rv) = expect_watch(&mut m);
        assert!(params.send_initial_events);
        assert_eq!(rv, "");
        m.on_watch_opened();
        // Initial events are collected (a compact informer packs them as they arrive).
        assert!(m.is_collecting());
        assert_eq!(m.on_event(Ok(WatchEvent::Added(cm("a", "3")))), None);
        assert_eq!(m.on_event(Ok(WatchEvent::Added(cm("b", "4")))), None);
        assert_eq!(m.on_event(Ok(WatchEvent::Modified(cm("a", "5")))), None);
        assert_eq!(m.on_event(Ok(bookmark("6", false))), None);
        match m.on_event(Ok(bookmark("7", true))) {
            Some(Output::Replace {
                items,
                resource_version,
            }) => {
                assert_eq!(items, vec![cm("a", "5"), cm("b", "4")]);
                assert_eq!(resource_version, "7");
            }
            other => panic!("{other:?}"),
        }
        // The same watch goes on with changes, passed on one by one.
        assert!(m.is_watching());
        assert!(!m.is_collecting());
        assert_eq!(
            m.on_event(Ok(WatchEvent::Modified(cm("b", "8")))),
            Some(Output::Apply(cm("b", "8")))
        );
        m.on_watch_ended();
        let (params, rv) = expect_watch(&mut m);
        assert!(!params.send_initial_events);
        assert_eq!(rv, "8");
        assert_eq!(m.stats().streaming_lists, 1);
    }

    #[test]
    fn refused_streaming_list_falls_back_to_list_and_watch_for_good() {
        let mut m: Machine<ConfigMap> = Machine::new(ReflectorConfig::default());
        expect_watch(&mut m);
        m.on_watch_failed(&api_err(422, "Invalid"));
        assert_eq!(m.stats().streaming_refused, 1);
        expect_list(&mut m);
        m.on_list(Ok(page(vec![], "10", None)));
        expect_watch(&mut m);
        m.on_watch_opened();
        m.on_event(Ok(WatchEvent::Error(Status {
            code: Some(410),
            reason: Some("Expired".into()),
            ..Status::default()
        })));
        // Still list+watch.
        expect_list(&mut m);
    }

    #[test]
    fn streaming_list_that_ends_early_is_replaced_by_one_paginated_list() {
        let mut m: Machine<ConfigMap> = Machine::new(ReflectorConfig::default());
        expect_watch(&mut m);
        m.on_watch_opened();
        m.on_event(Ok(WatchEvent::Added(cm("a", "3"))));
        m.on_watch_ended();
        expect_list(&mut m);
        m.on_list(Ok(page(vec![], "10", None)));
        expect_watch(&mut m);
        m.on_watch_opened();
        m.on_event(Ok(WatchEvent::Error(Status {
            code: Some(410),
            reason: Some("Expired".into()),
            ..Status::default()
        })));
        // The next relist tries streaming again, from the last resourceVersion.
        let (params, rv) = expect_watch(&mut m);
        assert!(params.send_initial_events);
        assert_eq!(rv, "10");
    }
}
