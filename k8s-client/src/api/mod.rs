//! The typed [`Api<K>`] over the k8s-openapi types: every verb, every patch type,
//! server-side apply, subresources, watch.
