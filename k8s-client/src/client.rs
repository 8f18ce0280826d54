//! [`Client`]: one connection pool, one rate limiter and one credential source, cheap to
//! clone and shared by every API handle made from it.

use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::Result;

/// A handle to one API server as one identity. Clones share everything (pool, rate limiter,
/// credentials), so make one per program and clone it freely.
///
/// ```no_run
/// # async fn run() -> Result<(), k8s_client::Error> {
/// let client = k8s_client::Client::try_default().await?;
/// let version: serde_json::Value = client
///     .request(http::Request::get("/version").body(Vec::new()).unwrap())
///     .await?;
/// println!("server {}", version["gitVersion"]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    // Filled in by the rest/transport implementation.
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.config.cluster_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client from [`Config::infer`]: kubeconfig first, then the in-cluster environment.
    pub async fn try_default() -> Result<Self> {
        let config = Config::infer().await?;
        Client::try_from(config)
    }

    /// A client for `config`.
    pub fn try_from(config: Config) -> Result<Self> {
        let _ = config;
        todo!("client implementation")
    }

    /// The configuration this client was made from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The namespace `Api::default_namespaced` uses.
    pub fn default_namespace(&self) -> &str {
        &self.inner.config.default_namespace
    }

    /// Sends `request` (URI: path and query, relative to the server URL) through the rate
    /// limiter, credentials and retry policy, and returns the successful response. A non-2xx
    /// answer becomes [`Error::Api`](crate::Error::Api) with the server's `Status`.
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<crate::transport::ResponseBody>> {
        let _ = request;
        todo!("client implementation")
    }

    /// Sends `request` and decodes the JSON answer as `T`.
    pub async fn request<T: DeserializeOwned>(&self, request: http::Request<Vec<u8>>) -> Result<T> {
        let _ = request;
        todo!("client implementation")
    }

    /// Sends `request` and returns the answer body as text.
    pub async fn request_text(&self, request: http::Request<Vec<u8>>) -> Result<String> {
        let _ = request;
        todo!("client implementation")
    }

    /// Sends `request` and returns the answer body as a stream of chunks, as they arrive
    /// (watch, log follow).
    pub async fn request_stream(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let _ = request;
        todo!("client implementation");
        #[allow(unreachable_code)]
        Ok(futures::stream::empty())
    }
}
