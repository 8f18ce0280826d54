//! The on-disk discovery cache: one JSON file per server, valid for a TTL (client-go: 6
//! hours), in `~/.kube/cache/discovery/<host_port>/` by default.
//!
//! Safe for several processes at once: a writer writes a temporary file in the same
//! directory and renames it over the cache file (atomic on POSIX file systems), so a reader
//! sees the old file or the new one, never a mix. A missing, expired, unreadable, partial
//! or corrupt file is a cache miss, never an error.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::DiscoveryError;
use super::model::Snapshot;

/// How long a cache file is trusted (client-go's disk cache: 6 hours).
pub const DEFAULT_TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// The cache file's name. It differs from client-go's files (`servergroups.json`, ...), so
/// kubectl and this crate can share the directory.
const FILE_NAME: &str = "k8s-client-discovery.json";

/// The file format version; files of another version are a miss.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheFile {
    format: u32,
    /// Milliseconds since the Unix epoch when the file was written.
    written_at_ms: u64,
    snapshot: Snapshot,
}

/// A discovery cache directory for one server.
///
/// ```no_run
/// use std::time::Duration;
/// use k8s_client::discovery::{DiskCache, Discovery};
///
/// # fn run(client: k8s_client::Client) {
/// // ~/.kube/cache/discovery/<host_port>/, as kubectl; a directory of the program's own
/// // when there is no home directory.
/// let cache = DiskCache::default_for(&client.config().cluster_url)
///     .unwrap_or_else(|| DiskCache::for_server("/var/cache/my-program", &client.config().cluster_url))
///     .ttl(Duration::from_secs(600));
/// let discovery = Discovery::new(client).disk_cache(cache);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskCache {
    dir: PathBuf,
    ttl: Duration,
}

impl DiskCache {
    /// A cache in exactly `dir` (created when first written), with the default TTL.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DiskCache {
            dir: dir.into(),
            ttl: DEFAULT_TTL,
        }
    }

    /// A cache for `server` under `parent`: `parent/<host_port>` (see [`server_dir_name`]).
    pub fn for_server(parent: impl AsRef<Path>, server: &http::Uri) -> Self {
        DiskCache::new(parent.as_ref().join(server_dir_name(server)))
    }

    /// kubectl's location for `server`: `~/.kube/cache/discovery/<host_port>`. `None` when
    /// the home directory is unknown.
    pub fn default_for(server: &http::Uri) -> Option<Self> {
        let home = home::home_dir()?;
        Some(DiskCache::for_server(
            home.join(".kube").join("cache").join("discovery"),
            server,
        ))
    }

    /// How long a written file is trusted.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache file.
    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The cached snapshot, when the file exists, is complete and younger than the TTL.
    /// Anything else is a miss (`None`); the reason is logged at debug level.
    pub fn load(&self) -> Option<Snapshot> {
        let path = self.file();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!("discovery cache {}: {e}", path.display());
                return None;
            }
        };
        let file: CacheFile = match serde_json::from_slice(&bytes) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!("discovery cache {} is unusable: {e}", path.display());
                return None;
            }
        };
        if file.format != FORMAT {
            tracing::debug!(
                "discovery cache {} has format {}",
                path.display(),
                file.format
            );
            return None;
        }
        let now = unix_now_ms();
        // A file from the future (clock changes) is not trusted either.
        let fresh = file.written_at_ms <= now.saturating_add(60_000)
            && Duration::from_millis(now.saturating_sub(file.written_at_ms)) <= self.ttl;
        if !fresh {
            tracing::debug!("discovery cache {} has expired", path.display());
            return None;
        }
        Some(file.snapshot)
    }

    /// Writes `snapshot` (temporary file in the same directory, then an atomic rename).
    pub fn store(&self, snapshot: &Snapshot) -> Result<(), DiscoveryError> {
        fs::create_dir_all(&self.dir).map_err(|e| DiscoveryError::cache(&self.dir, e))?;
        let file = CacheFile {
            format: FORMAT,
            written_at_ms: unix_now_ms(),
            snapshot: snapshot.clone(),
        };
        let bytes =
            serde_json::to_vec(&file).map_err(|e| DiscoveryError::cache(&self.file(), e))?;
        let tmp = self.dir.join(format!(
            ".{FILE_NAME}.{}.{:016x}.tmp",
            std::process::id(),
            rand::random::<u64>()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, self.file())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            DiscoveryError::cache(&self.file(), e)
        })
    }

    /// Removes the cache file (a miss afterwards).
    pub fn clear(&self) -> Result<(), DiscoveryError> {
        match fs::remove_file(self.file()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DiscoveryError::cache(&self.file(), e)),
        }
    }
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The directory name for a server URL, as kubectl makes it: host and port (and any path
/// prefix) with every character other than letters, digits, `_` and `.` replaced by `_`
/// (`https://127.0.0.1:6443` -> `127.0.0.1_6443`). Unlike kubectl, a path prefix does not
/// make subdirectories (`/` becomes `_` too), so the name is always one path component.
pub fn server_dir_name(server: &http::Uri) -> String {
    let mut raw = server
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let path = server.path().trim_end_matches('/');
    raw.push_str(path);
    // Credentials in the authority (`user@host`) never reach the file system.
    if let Some((_, host)) = raw.rsplit_once('@') {
        raw = host.to_string();
    }
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        format!("_{name}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::model::ApiGroup;

    fn snapshot() -> Snapshot {
        Snapshot {
            groups: vec![ApiGroup {
                name: "apps".into(),
                versions: vec!["v1".into()],
                preferred_version: Some("v1".into()),
            }],
            ..Snapshot::default()
        }
    }

    #[test]
    fn dir_names() {
        let n = |u: &str| server_dir_name(&u.parse().unwrap());
        assert_eq!(n("https://127.0.0.1:6443"), "127.0.0.1_6443");
        assert_eq!(n("https://example.com"), "example.com");
        assert_eq!(
            n("https://rancher.local/k8s/clusters/c-1/"),
            "rancher.local_k8s_clusters_c_1"
        );
        assert_eq!(n("https://[::1]:6443"), "___1__6443");
        assert_eq!(n("https://u:p@h:1"), "h_1");
    }

    #[test]
    fn store_load_expire_and_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(tmp.path().join("a").join("b"));
        assert_eq!(cache.load(), None, "missing file");
        cache.store(&snapshot()).unwrap();
        assert_eq!(cache.load(), Some(snapshot()));

        // An old file is a miss.
        let mut file: serde_json::Value =
            serde_json::from_slice(&fs::read(cache.file()).unwrap()).unwrap();
        file["writtenAtMs"] = (unix_now_ms() - 7 * 3600 * 1000).into();
        fs::write(cache.file(), serde_json::to_vec(&file).unwrap()).unwrap();
        assert_eq!(cache.load(), None);
        assert!(cache
            .clone()
            .ttl(Duration::from_secs(8 * 3600))
            .load()
            .is_some());

        // Partial and corrupt files are misses.
        let good = fs::read(cache.file()).unwrap();
        fs::write(cache.file(), &good[..good.len() / 2]).unwrap();
        assert_eq!(cache.load(), None);
        fs::write(cache.file(), b"\0\xff garbage").unwrap();
        assert_eq!(cache.load(), None);
        fs::write(
            cache.file(),
            br#"{"format":99,"writtenAtMs":0,"snapshot":{}}"#,
        )
        .unwrap();
        assert_eq!(cache.load(), None);

        cache.store(&snapshot()).unwrap();
        let leftovers: Vec<_> = fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [FILE_NAME], "no temporary files left behind");
        cache.clear().unwrap();
        assert_eq!(cache.load(), None);
        cache.clear().unwrap();
    }

    #[test]
    fn unwritable_dir_is_a_typed_error() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let err = DiskCache::new(blocker.join("sub"))
            .store(&snapshot())
            .unwrap_err();
        assert!(matches!(err, DiscoveryError::Cache { .. }), "{err:?}");
        let source = std::error::Error::source(&err).expect("the I/O error is kept");
        assert!(source.is::<std::io::Error>(), "{source:?}");
    }
}
