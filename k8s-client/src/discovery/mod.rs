//! What the server serves: versions, groups, resources; memory and disk caches; kind/resource mapping; version-skew checks.
//!
//! [`Discovery`] asks the server once (aggregated discovery: `/version`, `/api`, `/apis`;
//! or, on servers without it, the legacy per-group/version endpoints) and keeps the answer,
//! a [`Snapshot`], in memory and optionally in a [`DiskCache`] shared by processes.
//! Lookups that miss (a kind or name the snapshot does not know, for example a CRD created
//! after it was taken) refresh it once, at most once per
//! [`refresh_on_miss_interval`](Discovery::refresh_on_miss_interval), before answering
//! "not served".
//!
//! ```no_run
//! use k8s_client::discovery::{Discovery, DiskCache};
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let cache = DiskCache::default_for(&client.config().cluster_url);
//! let mut discovery = Discovery::new(client);
//! if let Some(cache) = cache {
//!     discovery = discovery.disk_cache(cache);
//! }
//! println!("server {}", discovery.server_version().await?);
//! for group in discovery.groups().await? {
//!     println!("{} (preferred {:?})", group.name, group.preferred());
//! }
//! let deploy = discovery.resolve("deploy").await?;
//! println!("{} {}", deploy.api.api_version(), deploy.api.plural); // apps/v1 deployments
//! # Ok(())
//! # }
//! ```
//!
//! Partial failures (an aggregated API whose backend is down) do not fail discovery: the
//! snapshot lists them in [`Snapshot::failed`], and [`Snapshot::check_complete`] turns them
//! into [`DiscoveryError::GroupDiscoveryFailed`] for callers that need everything.

mod disk;
mod error;
mod fetch;
mod mapper;
mod model;
mod skew;
mod wire;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use disk::{server_dir_name, DiskCache, DEFAULT_TTL};
pub use error::{DiscoveryError, MappingError};
pub use model::{
    ApiGroup, DiscoveredResource, DiscoveryFormat, GroupVersionResources, ServerVersion, Snapshot,
    Subresource,
};
pub use skew::{
    evaluate, known_move, Deprecation, DeprecationSource, KindReport, KindStatus, KnownMove,
    SkewCheck, SkewError, SkewReport,
};
pub use wire::{
    aggregated_format, parse_aggregated, parse_api_group_list, parse_api_resource_list,
    parse_api_versions, parse_version, Aggregated, AGGREGATED_ACCEPT, AGGREGATED_V2,
    AGGREGATED_V2BETA1,
};

use crate::api::GroupVersionKind;
use crate::Client;

/// How long after a network refresh a lookup miss may refresh again (default).
pub const DEFAULT_REFRESH_ON_MISS_INTERVAL: Duration = Duration::from_secs(2);

/// Which discovery endpoints to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiscoveryMode {
    /// Aggregated discovery (v2, then v2beta1), falling back to the legacy endpoints when
    /// the server answers in the legacy format (client-go's default).
    #[default]
    Aggregated,
    /// Only the legacy endpoints: `/api`, `/apis`, then one request per group/version.
    Legacy,
}

/// Discovery with an in-memory cache, and optionally a disk cache. Cheap to share
/// (`Arc<Discovery>`); every method takes `&self`. See the [module docs](self).
pub struct Discovery {
    client: Client,
    mode: DiscoveryMode,
    disk: Option<DiskCache>,
    miss_interval: Duration,
    state: Mutex<State>,
    /// Held while fetching, so concurrent misses make one request set.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    snapshot: Option<Arc<Snapshot>>,
    /// When the snapshot in memory was last fetched from the server.
    fetched_at: Option<Instant>,
    /// Set by `invalidate`: the disk cache is not trusted until the next fetch.
    skip_disk: bool,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("client", &self.client)
            .field("mode", &self.mode)
            .field("disk", &self.disk)
            .field("miss_interval", &self.miss_interval)
            .finish_non_exhaustive()
    }
}

impl Discovery {
    /// Discovery through `client`, cached in memory only.
    pub fn new(client: Client) -> Self {
        Discovery {
            client,
            mode: DiscoveryMode::default(),
            disk: None,
            miss_interval: DEFAULT_REFRESH_ON_MISS_INTERVAL,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Uses `mode` (default: aggregated with legacy fallback).
    pub fn mode(mut self, mode: DiscoveryMode) -> Self {
        self.mode = mode;
        self
    }

    /// Also keeps snapshots in `cache`, shared with other processes.
    pub fn disk_cache(mut self, cache: DiskCache) -> Self {
        self.disk = Some(cache);
        self
    }

    /// How soon after a fetch a lookup miss may fetch again (default 2 s). A miss on a
    /// snapshot read from disk always refreshes.
    pub fn refresh_on_miss_interval(mut self, interval: Duration) -> Self {
        self.miss_interval = interval;
        self
    }

    /// The client this discovery talks through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current snapshot: from memory, else from the disk cache (when fresh), else from
    /// the server.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, DiscoveryError> {
        if let Some(s) = self.state().snapshot.clone() {
            return Ok(s);
        }
        let _guard = self.fetching.lock().await;
        let skip_disk = {
            let state = self.state();
            if let Some(s) = state.snapshot.clone() {
                return Ok(s);
            }
            state.skip_disk
        };
        if let (Some(disk), false) = (&self.disk, skip_disk) {
            let disk = disk.clone();
            let loaded = tokio::task::spawn_blocking(move || disk.load())
                .await
                .ok()
                .flatten();
            if let Some(snapshot) = loaded {
                let snapshot = Arc::new(snapshot);
                self.state().snapshot = Some(snapshot.clone());
                return Ok(snapshot);
            }
        }
        self.fetch_locked().await
    }

    /// Fetches a new snapshot from the server now (and writes it to the disk cache).
    pub async fn refresh(&self) -> Result<Arc<Snapshot>, DiscoveryError> {
        let _guard = self.fetching.lock().await;
        self.fetch_locked().await
    }

    /// Forgets the snapshot in memory and distrusts the disk cache: the next query asks the
    /// server (client-go's `Invalidate`).
    pub fn invalidate(&self) {
        let mut state = self.state();
        state.snapshot = None;
        state.fetched_at = None;
        state.skip_disk = true;
    }

    async fn fetch_locked(&self) -> Result<Arc<Snapshot>, DiscoveryError> {
        let snapshot = Arc::new(fetch::fetch(&self.client, self.mode).await?);
        if let Some(disk) = &self.disk {
            let disk = disk.clone();
            let to_store = snapshot.clone();
            let stored = tokio::task::spawn_blocking(move || disk.store(&to_store)).await;
            match stored {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("{e}"),
                Err(e) => tracing::warn!("writing the discovery cache: {e}"),
            }
        }
        let mut state = self.state();
        state.snapshot = Some(snapshot.clone());
        state.fetched_at = Some(Instant::now());
        state.skip_disk = false;
        Ok(snapshot)
    }

    /// After a lookup missed: a fresh snapshot, unless the one in memory was fetched from
    /// the server less than the miss interval ago (then `None`).
    pub(crate) async fn refresh_after_miss(&self) -> Result<Option<Arc<Snapshot>>, DiscoveryError> {
        let _guard = self.fetching.lock().await;
        let recent = self
            .state()
            .fetched_at
            .is_some_and(|t| t.elapsed() < self.miss_interval);
        if recent {
            return Ok(None);
        }
        tracing::debug!("discovery lookup missed: refreshing");
        self.fetch_locked().await.map(Some)
    }

    /// The server's version (client-go's `ServerVersion`), from the snapshot.
    pub async fn server_version(&self) -> Result<ServerVersion, DiscoveryError> {
        Ok(self.snapshot().await?.server_version.clone())
    }

    /// The groups and their versions, in the server's priority order, core first
    /// (client-go's `ServerGroups`).
    pub async fn groups(&self) -> Result<Vec<ApiGroup>, DiscoveryError> {
        Ok(self.snapshot().await?.groups.clone())
    }

    /// The resources of one group/version (`"v1"`, `"apps/v1"`; client-go's
    /// `ServerResourcesForGroupVersion`). A group/version the snapshot does not have
    /// refreshes it once (see [`refresh_on_miss_interval`](Self::refresh_on_miss_interval));
    /// `None` when the server does not serve it; [`DiscoveryError::GroupDiscoveryFailed`]
    /// when it is served but could not be discovered.
    pub async fn resources_for(
        &self,
        api_version: &str,
    ) -> Result<Option<GroupVersionResources>, DiscoveryError> {
        let mut snapshot = self.snapshot().await?;
        if snapshot.resources_for(api_version).is_none() {
            if let Some(fresh) = self.refresh_after_miss().await? {
                snapshot = fresh;
            }
        }
        if let Some(why) = snapshot.failed.get(api_version) {
            return Err(DiscoveryError::GroupDiscoveryFailed {
                failed: [(api_version.to_string(), why.clone())].into(),
            });
        }
        Ok(snapshot.resources_for(api_version).cloned())
    }

    /// One entry per group and resource at its preferred version (client-go's
    /// `ServerPreferredResources`).
    pub async fn preferred_resources(&self) -> Result<Vec<DiscoveredResource>, DiscoveryError> {
        Ok(self
            .snapshot()
            .await?
            .preferred_resources()
            .into_iter()
            .cloned()
            .collect())
    }

    /// The resource a person means by `input` (`deploy`, `deployments.apps`,
    /// `deployment.v1.apps`, `Deployment`, a CRD's short name; see [`Snapshot::resolve`]).
    /// A name the snapshot does not know refreshes it once before
    /// [`MappingError::NotFound`].
    pub async fn resolve(&self, input: &str) -> Result<DiscoveredResource, MappingError> {
        let snapshot = self.snapshot().await?;
        match snapshot.resolve(input) {
            Err(MappingError::NotFound { .. }) => {}
            other => return other.cloned(),
        }
        match self.refresh_after_miss().await? {
            Some(fresh) => fresh.resolve(input).cloned(),
            None => snapshot.resolve(input).cloned(),
        }
    }

    /// The resource serving `gvk` (empty version: the preferred one), refreshing once on a
    /// miss; `None` when the server does not serve it.
    pub async fn resolve_kind(
        &self,
        gvk: &GroupVersionKind,
    ) -> Result<Option<DiscoveredResource>, DiscoveryError> {
        let snapshot = self.snapshot().await?;
        if let Some(r) = snapshot.resolve_kind(gvk) {
            return Ok(Some(r.clone()));
        }
        Ok(match self.refresh_after_miss().await? {
            Some(fresh) => fresh.resolve_kind(gvk).cloned(),
            None => None,
        })
    }

    /// The resources in a category (`all`), one per group and resource.
    pub async fn category(
        &self,
        category: &str,
    ) -> Result<Vec<DiscoveredResource>, DiscoveryError> {
        Ok(self
            .snapshot()
            .await?
            .category(category)
            .into_iter()
            .cloned()
            .collect())
    }
}
