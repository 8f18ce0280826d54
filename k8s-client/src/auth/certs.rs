//! Client certificates: PEM parsing, the rustls resolver that hands out the current one, and
//! re-reading certificate files when they change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use super::error::AuthError;
use crate::config::{ClientCertConfig, DataSource};

/// Parses a PEM certificate chain and private key (PKCS#8, PKCS#1 RSA or SEC1 EC) into a
/// rustls [`CertifiedKey`], checking that the key belongs to the certificate.
pub(crate) fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    what: &str,
) -> Result<CertifiedKey, AuthError> {
    let bad = |message: String| AuthError::BadPem {
        what: what.to_string(),
        message,
        source: None,
    };
    let caused =
        |message: String, source: Box<dyn std::error::Error + Send + Sync>| AuthError::BadPem {
            what: what.to_string(),
            message,
            source: Some(source),
        };
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| {
            caused(
                format!("client certificate is not valid PEM: {e}"),
                e.into(),
            )
        })?;
    if certs.is_empty() {
        return Err(bad(
            "no CERTIFICATE block in the client certificate".to_string()
        ));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
        // The error text of the PEM reader never contains key material.
        .map_err(|e| caused(format!("client key is not valid PEM: {e}"), e.into()))?
        .ok_or_else(|| bad("no PRIVATE KEY block in the client key".to_string()))?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| caused(format!("unsupported client key: {e}"), e.into()))?;
    let ck = CertifiedKey::new(certs, signing_key);
    match ck.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(ck),
        Err(e) => Err(caused(
            format!("the client key does not belong to the certificate: {e}"),
            e.into(),
        )),
    }
}

/// Holds the current client certificate; rustls asks it at each handshake.
#[derive(Default)]
pub(crate) struct CertSlot {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    /// Bumped each time the certificate changes.
    generation: std::sync::atomic::AtomicU64,
}

impl CertSlot {
    pub(crate) fn set(&self, key: Option<Arc<CertifiedKey>>) {
        if let Ok(mut guard) = self.current.write() {
            *guard = key;
        }
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The rustls side: hands out the certificate an exec plugin returned, else the configured
/// one. When the configured one was never loaded (a handshake before the first `prepare`),
/// it is loaded on the spot.
pub(crate) struct Resolver {
    pub(crate) exec_slot: Option<Arc<CertSlot>>,
    pub(crate) static_slot: Option<Arc<CertSlot>>,
    pub(crate) static_source: Option<Arc<StaticCerts>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertResolver")
            .field(
                "exec",
                &self.exec_slot.as_ref().is_some_and(|s| s.get().is_some()),
            )
            .field(
                "configured",
                &self.static_slot.as_ref().is_some_and(|s| s.get().is_some()),
            )
            .finish()
    }
}

impl ResolvesClientCert for Resolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        if let Some(ck) = self.exec_slot.as_ref().and_then(|s| s.get()) {
            return Some(ck);
        }
        let slot = self.static_slot.as_ref()?;
        if let Some(ck) = slot.get() {
            return Some(ck);
        }
        let source = self.static_source.as_ref()?;
        match source.load_blocking() {
            Ok(()) => slot.get(),
            Err(e) => {
                tracing::warn!(error = %e, "client certificate unavailable for TLS handshake");
                None
            }
        }
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// How often certificate and key files are checked for a change (client-go checks every 5
/// minutes). Checking on every request cost two `stat` calls on the blocking pool each.
pub(crate) const CERT_FILE_CHECK_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

/// Certificate and key as configured (files or data); file ones are re-read when their
/// modification time changes (checked at most every [`CERT_FILE_CHECK_PERIOD`], and at once
/// after a 401).
pub(crate) struct StaticCerts {
    config: ClientCertConfig,
    slot: Arc<CertSlot>,
    /// The modification times of (cert file, key file) the slot's certificate was read at.
    loaded_mtimes: Mutex<Option<(Option<SystemTime>, Option<SystemTime>)>>,
    /// When the files were last checked (`None`: check on the next request).
    checked_at: Mutex<Option<tokio::time::Instant>>,
}

fn describe(source: &DataSource, what: &str) -> String {
    match source {
        DataSource::File(p) => format!("{what} {}", p.display()),
        DataSource::Data(_) => format!("{what} (inline data)"),
    }
}

impl StaticCerts {
    pub(crate) fn new(config: ClientCertConfig, slot: Arc<CertSlot>) -> Result<Self, AuthError> {
        let certs = StaticCerts {
            config,
            slot,
            loaded_mtimes: Mutex::new(None),
            checked_at: Mutex::new(None),
        };
        // Inline data costs no I/O: load it now so errors show at once.
        if let (DataSource::Data(c), DataSource::Data(k)) = (&certs.config.cert, &certs.config.key)
        {
            let ck = certified_key(c.expose(), k.expose(), "client certificate (inline data)")?;
            certs.slot.set(Some(Arc::new(ck)));
            if let Ok(mut m) = certs.loaded_mtimes.lock() {
                *m = Some((None, None));
            }
        }
        Ok(certs)
    }

    fn has_files(&self) -> bool {
        matches!(self.config.cert, DataSource::File(_))
            || matches!(self.config.key, DataSource::File(_))
    }

    /// Whether the files were checked less than [`CERT_FILE_CHECK_PERIOD`] ago; if not,
    /// notes a check now.
    fn checked_recently(&self) -> bool {
        let Ok(mut at) = self.checked_at.lock() else {
            return false;
        };
        let now = tokio::time::Instant::now();
        match *at {
            Some(t) if now.duration_since(t) < CERT_FILE_CHECK_PERIOD => true,
            _ => {
                *at = Some(now);
                false
            }
        }
    }

    /// The next request checks the files (the server answered 401).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut at) = self.checked_at.lock() {
            *at = None;
        }
    }

    fn loaded(&self) -> Option<(Option<SystemTime>, Option<SystemTime>)> {
        self.loaded_mtimes.lock().ok().and_then(|g| *g)
    }

    /// Re-reads the files when they changed since the last read (or were never read).
    pub(crate) async fn refresh(&self) -> Result<(), AuthError> {
        let loaded = self.loaded();
        if loaded.is_some() && !self.has_files() {
            return Ok(());
        }
        if loaded.is_some() && self.checked_recently() {
            return Ok(());
        }
        let mtimes = (
            mtime_async(&self.config.cert).await,
            mtime_async(&self.config.key).await,
        );
        if loaded == Some(mtimes) {
            return Ok(());
        }
        let cert = read_async(&self.config.cert, "client certificate").await?;
        let key = read_async(&self.config.key, "client key").await?;
        self.install(&cert, &key, mtimes)
    }

    /// The same as [`refresh`](Self::refresh) for a handshake that comes before any
    /// `prepare`: small files, read once.
    fn load_blocking(&self) -> Result<(), AuthError> {
        let mtimes = (
            mtime_blocking(&self.config.cert),
            mtime_blocking(&self.config.key),
        );
        let cert = read_blocking(&self.config.cert, "client certificate")?;
        let key = read_blocking(&self.config.key, "client key")?;
        self.install(&cert, &key, mtimes)
    }

    fn install(
        &self,
        cert: &[u8],
        key: &[u8],
        mtimes: (Option<SystemTime>, Option<SystemTime>),
    ) -> Result<(), AuthError> {
        let what = describe(&self.config.cert, "client certificate");
        let ck = certified_key(cert, key, &what)?;
        self.slot.set(Some(Arc::new(ck)));
        if let Ok(mut m) = self.loaded_mtimes.lock() {
            *m = Some(mtimes);
        }
        tracing::debug!(source = %what, "client certificate loaded");
        Ok(())
    }
}

async fn mtime_async(source: &DataSource) -> Option<SystemTime> {
    match source {
        DataSource::File(p) => tokio::fs::metadata(p).await.ok()?.modified().ok(),
        DataSource::Data(_) => None,
    }
}

fn mtime_blocking(source: &DataSource) -> Option<SystemTime> {
    match source {
        DataSource::File(p) => std::fs::metadata(p).ok()?.modified().ok(),
        DataSource::Data(_) => None,
    }
}

fn read_error(what: &'static str, path: &Path, source: std::io::Error) -> AuthError {
    AuthError::ReadFile {
        what,
        path: PathBuf::from(path),
        source,
    }
}

async fn read_async(source: &DataSource, what: &'static str) -> Result<Vec<u8>, AuthError> {
    match source {
        DataSource::File(p) => tokio::fs::read(p).await.map_err(|e| read_error(what, p, e)),
        DataSource::Data(d) => Ok(d.expose().clone()),
    }
}

fn read_blocking(source: &DataSource, what: &'static str) -> Result<Vec<u8>, AuthError> {
    match source {
        DataSource::File(p) => std::fs::read(p).map_err(|e| read_error(what, p, e)),
        DataSource::Data(d) => Ok(d.expose().clone()),
    }
}
