//! Untyped objects addressed by group/version/resource: the dynamic client.
