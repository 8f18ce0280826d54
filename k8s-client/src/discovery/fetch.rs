//! Fetching discovery information from the server: `/version`, then aggregated discovery
//! (`/api` and `/apis`, two requests) with a fallback to the legacy per-group/version
//! endpoints when the server answers in the legacy format.
//!
//! The requests are built without I/O ([`discovery_request`]) and sent through the
//! client's usual path (rate limiter, credentials, retries).

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE};
use http_body_util::BodyExt;

use super::error::DiscoveryError;
use super::model::{ApiGroup, DiscoveryFormat, GroupVersionResources, Snapshot};
use super::wire;
use super::DiscoveryMode;
use crate::backoff::Backoff;
use crate::Client;

/// How many legacy group/version requests are in flight at once.
const LEGACY_CONCURRENCY: usize = 8;

/// The retry policy of the per-group/version requests: one quick retry. An aggregated API
/// whose backend is down answers 503 to every try, and its failure is reported (in
/// [`Snapshot::failed`]) rather than waited out with the client's full retry policy.
fn group_version_retry() -> Backoff {
    Backoff::new(Duration::from_millis(100))
        .jitter(1.0)
        .cap(Duration::from_secs(1))
        .steps(2)
}

/// A `GET path` request with the given `Accept` header (no I/O).
pub(crate) fn discovery_request(
    path: &str,
    accept: &str,
) -> Result<http::Request<Vec<u8>>, DiscoveryError> {
    http::Request::get(path)
        .header(ACCEPT, accept)
        .body(Vec::new())
        .map_err(|e| {
            let error = crate::error::RequestError::with_source(
                format!("cannot build the discovery request GET {path}: {e}"),
                e,
            );
            DiscoveryError::request(path, error.into())
        })
}

/// The path of a group/version's legacy resource list.
pub(crate) fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// GETs `path`, returning the answer's `Content-Type` and body.
async fn get(client: &Client, path: &str, accept: &str) -> Result<(String, Bytes), DiscoveryError> {
    let request = discovery_request(path, accept)?;
    let response = client
        .send(request)
        .await
        .map_err(|e| DiscoveryError::request(path, e))?;
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| DiscoveryError::request(path, crate::client::layer::body_error(e)))?
        .to_bytes();
    Ok((content_type, body))
}

/// Discovers everything the server serves, in `mode`.
pub(crate) async fn fetch(
    client: &Client,
    mode: DiscoveryMode,
) -> Result<Snapshot, DiscoveryError> {
    let (_, body) = get(client, "/version", "application/json").await?;
    let server_version = wire::parse_version("/version", &body)?;

    if mode == DiscoveryMode::Aggregated {
        let (ct_api, api) = get(client, "/api", wire::AGGREGATED_ACCEPT).await?;
        if let Some(format) = wire::aggregated_format(&ct_api) {
            let (ct_apis, apis) = get(client, "/apis", wire::AGGREGATED_ACCEPT).await?;
            if wire::aggregated_format(&ct_apis).is_some() {
                let mut core = wire::parse_aggregated("/api", &api)?;
                let rest = wire::parse_aggregated("/apis", &apis)?;
                core.groups.extend(rest.groups);
                core.resources.extend(rest.resources);
                core.failed.extend(rest.failed);
                return Ok(Snapshot {
                    server_version,
                    format,
                    groups: core.groups,
                    resources: core.resources,
                    failed: core.failed,
                });
            }
            tracing::debug!(
                "/apis answered {ct_apis:?}, not aggregated discovery: using the legacy endpoints"
            );
        } else {
            tracing::debug!(
                "/api answered {ct_api:?}, not aggregated discovery: using the legacy endpoints"
            );
        }
    }
    fetch_legacy(client, server_version).await
}

async fn fetch_legacy(
    client: &Client,
    server_version: super::ServerVersion,
) -> Result<Snapshot, DiscoveryError> {
    let (_, api) = get(client, "/api", "application/json").await?;
    let core = wire::parse_api_versions("/api", &api)?;
    let (_, apis) = get(client, "/apis", "application/json").await?;
    let mut groups: Vec<ApiGroup> = vec![core];
    groups.extend(wire::parse_api_group_list("/apis", &apis)?);

    let gv_client = client.clone().with_retry_policy(group_version_retry());
    let gv_client = &gv_client;
    let targets: Vec<(String, String)> = groups
        .iter()
        .flat_map(|g| g.versions.iter().map(|v| (g.name.clone(), v.clone())))
        .collect();
    let results: Vec<(
        String,
        String,
        Result<GroupVersionResources, DiscoveryError>,
    )> = futures::stream::iter(targets)
        .map(|(group, version)| async move {
            let path = group_version_path(&group, &version);
            let result = match get(gv_client, &path, "application/json").await {
                Ok((_, body)) => wire::parse_api_resource_list(&path, &group, &version, &body),
                Err(e) => Err(e),
            };
            (group, version, result)
        })
        .buffered(LEGACY_CONCURRENCY)
        .collect()
        .await;

    let mut snapshot = Snapshot {
        server_version,
        format: DiscoveryFormat::Legacy,
        groups,
        resources: Vec::new(),
        failed: Default::default(),
    };
    for (group, version, result) in results {
        match result {
            Ok(gv) => snapshot.resources.push(gv),
            Err(e) => {
                let gv = crate::api::join_api_version(&group, &version);
                tracing::debug!("discovery of {gv} failed: {e}");
                snapshot.failed.insert(gv, e.to_string());
            }
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let r = discovery_request("/apis", wire::AGGREGATED_ACCEPT).unwrap();
        assert_eq!(r.uri(), "/apis");
        assert_eq!(r.method(), http::Method::GET);
        assert!(r.headers()[ACCEPT]
            .to_str()
            .unwrap()
            .starts_with(wire::AGGREGATED_V2));
        assert_eq!(group_version_path("", "v1"), "/api/v1");
        assert_eq!(group_version_path("apps", "v1"), "/apis/apps/v1");
    }
}
