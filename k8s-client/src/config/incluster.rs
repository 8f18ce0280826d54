//! In-cluster configuration (stub; being implemented).

/// Where the in-cluster files are.
#[derive(Debug)]
pub struct InClusterPaths;
