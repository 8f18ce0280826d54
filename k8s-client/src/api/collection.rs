//! What every client shares for collections: the request for a resource named at run time,
//! and following `continue` tokens page by page.

use std::future::Future;

use futures::{Stream, TryStreamExt};

use super::{ApiResource, ListParams, ObjectList};
use crate::error::Result;
use crate::rest::{Request, Verb};

/// A request for `verb` on `resource`'s collection in `namespace` (or in all namespaces, or
/// cluster-wide). A namespace given for a cluster-scoped resource is a build error.
pub(crate) fn resource_request(
    resource: &ApiResource,
    namespace: Option<&str>,
    verb: Verb,
) -> Request {
    let req = Request::new(verb)
        .group_version(resource.group.as_str(), resource.version.as_str())
        .namespace_opt(namespace)
        .resource(resource.plural.as_str());
    match namespace {
        Some(ns) if !resource.namespaced => req.with_error(format!(
            "{} ({}) is cluster-scoped: it has no namespace {ns:?} (use `all`)",
            resource.plural,
            resource.api_version()
        )),
        _ => req,
    }
}

/// Lists page by page with `list` (one call per page), following `continue` tokens from
/// `params`. The stream ends after the last page or the first error.
pub(crate) fn list_pages<T, F, Fut>(
    params: &ListParams,
    list: F,
) -> impl Stream<Item = Result<ObjectList<T>>> + Send + 'static
where
    T: Send + 'static,
    F: Fn(ListParams) -> Fut + Send + 'static,
    Fut: Future<Output = Result<ObjectList<T>>> + Send + 'static,
{
    futures::stream::try_unfold(Some(params.clone()), move |next| {
        let fetch = next.map(|p| (list(p.clone()), p));
        async move {
            let Some((page, params)) = fetch else {
                return Ok(None);
            };
            let page = page.await?;
            let next = page.continue_token().map(|token| {
                // Later pages are read at the first page's snapshot, which the token
                // carries: the resourceVersion options must not be repeated.
                let mut p = params;
                p.continue_token = Some(token.to_string());
                p.resource_version = None;
                p.resource_version_match = None;
                p
            });
            Ok(Some((page, next)))
        }
    })
}

/// Collects every page of `pages` into one list whose metadata is the last page's.
pub(crate) async fn collect_pages<T>(
    pages: impl Stream<Item = Result<ObjectList<T>>>,
) -> Result<ObjectList<T>> {
    let mut all = ObjectList::default();
    let mut pages = std::pin::pin!(pages);
    while let Some(page) = pages.try_next().await? {
        all.items.extend(page.items);
        all.metadata = page.metadata;
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Namespace;

    use super::*;
    use crate::api::GroupVersionKind;
    use crate::Error;

    fn uri(r: Request) -> String {
        r.build().unwrap().uri().to_string()
    }

    #[test]
    fn paths_come_from_the_resource() {
        let deploy = ApiResource::of::<Deployment>();
        assert_eq!(
            uri(resource_request(&deploy, Some("ns"), Verb::Get)
                .name("d")
                .subresource("scale")),
            "/apis/apps/v1/namespaces/ns/deployments/d/scale"
        );
        assert_eq!(
            uri(resource_request(&deploy, None, Verb::Watch)),
            "/apis/apps/v1/deployments?watch=true"
        );
        let crd = ApiResource::from_gvk(
            &GroupVersionKind::new("stable.example.com", "v1", "CronTab"),
            "crontabs",
            true,
        );
        assert_eq!(
            uri(ListParams::default()
                .labels("a=b")
                .limit(2)
                .apply_to(resource_request(&crd, Some("ns"), Verb::List))),
            "/apis/stable.example.com/v1/namespaces/ns/crontabs?labelSelector=a%3Db&limit=2"
        );
        let namespaces = ApiResource::of::<Namespace>();
        assert_eq!(
            uri(resource_request(&namespaces, None, Verb::Get).name("x")),
            "/api/v1/namespaces/x"
        );
        match resource_request(&namespaces, Some("ns"), Verb::List).build() {
            Err(Error::Request(e)) => {
                let msg = e.message();
                assert!(
                    msg.contains("cluster-scoped") && msg.contains("\"ns\""),
                    "{msg}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn list_pages_follow_continue_tokens() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let pages = list_pages(
            &ListParams::default().limit(1).at("5"),
            move |p: ListParams| {
                log.lock().unwrap().push(p.clone());
                async move {
                    let mut page = ObjectList::<u32>::default();
                    match p.continue_token.as_deref() {
                        None => page.metadata.continue_ = Some("t1".into()),
                        Some("t1") => page.metadata.continue_ = Some("t2".into()),
                        _ => page.metadata.continue_ = Some(String::new()),
                    }
                    page.items.push(7);
                    Ok(page)
                }
            },
        );
        let all = futures::executor::block_on(collect_pages(pages)).unwrap();
        assert_eq!(all.items, [7, 7, 7]);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].resource_version.as_deref(), Some("5"));
        assert_eq!(seen[1].continue_token.as_deref(), Some("t1"));
        assert_eq!(seen[1].resource_version, None);
        assert_eq!(seen[2].limit, Some(1));
    }
}
