//! Bearer tokens read from a file (rotating service-account tokens): re-read at most once
//! a minute, and at once after a 401.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

// tokio's clock, so tests can skip the re-read period with a paused clock.
use tokio::time::Instant;

use http::HeaderValue;

use super::error::AuthError;
use super::header_value;

/// How long a token read from a file is used before the file is read again (client-go's
/// cached file token source uses one minute).
pub(crate) const TOKEN_FILE_PERIOD: Duration = Duration::from_secs(60);

struct Cached {
    header: HeaderValue,
    read_at: Instant,
    stale: bool,
}

pub(crate) struct TokenFile {
    path: PathBuf,
    period: Duration,
    cached: Mutex<Option<Cached>>,
    /// One reader at a time.
    reading: tokio::sync::Mutex<()>,
}

impl TokenFile {
    /// A token file source; `initial` (a token given beside the file) is used until the
    /// first re-read.
    pub(crate) fn new(path: PathBuf, initial: Option<HeaderValue>, period: Duration) -> Self {
        TokenFile {
            path,
            period,
            cached: Mutex::new(initial.map(|header| Cached {
                header,
                read_at: Instant::now(),
                stale: false,
            })),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<HeaderValue> {
        let guard = self.cached.lock().ok()?;
        let c = guard.as_ref()?;
        (!c.stale && c.read_at.elapsed() < self.period).then(|| c.header.clone())
    }

    fn any(&self) -> Option<HeaderValue> {
        let guard = self.cached.lock().ok()?;
        guard.as_ref().map(|c| c.header.clone())
    }

    /// Forgets the age of the cached token so the next call reads the file.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut guard) = self.cached.lock() {
            if let Some(c) = guard.as_mut() {
                c.stale = true;
            }
        }
    }

    /// The `Authorization` header with the current token.
    pub(crate) async fn header(&self) -> Result<HeaderValue, AuthError> {
        if let Some(h) = self.fresh() {
            return Ok(h);
        }
        let _reading = self.reading.lock().await;
        if let Some(h) = self.fresh() {
            return Ok(h);
        }
        match self.read().await {
            Ok(header) => {
                if let Ok(mut guard) = self.cached.lock() {
                    *guard = Some(Cached {
                        header: header.clone(),
                        read_at: Instant::now(),
                        stale: false,
                    });
                }
                Ok(header)
            }
            Err(e) => match self.any() {
                // As client-go: keep using the last good token when a re-read fails.
                Some(h) => {
                    tracing::warn!(error = %e, "re-reading the token file failed; using the last token read");
                    if let Ok(mut guard) = self.cached.lock() {
                        if let Some(c) = guard.as_mut() {
                            c.read_at = Instant::now();
                            c.stale = false;
                        }
                    }
                    Ok(h)
                }
                None => Err(e),
            },
        }
    }

    async fn read(&self) -> Result<HeaderValue, AuthError> {
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|source| AuthError::ReadFile {
                what: "token file",
                path: self.path.clone(),
                source,
            })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(AuthError::ReadFile {
                what: "token file",
                path: self.path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"),
            });
        }
        header_value(&format!("Bearer {token}"), "the token in the token file")
    }
}
