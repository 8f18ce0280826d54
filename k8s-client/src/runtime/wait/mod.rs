//! Watch utilities: [`RetryWatcher`], a watch that resumes across disconnects and server
//! timeouts without losing events (client-go `watchtools.RetryWatcher`), and
//! [`wait_until`] / [`wait_until_list`], which wait for a condition on objects without
//! missing a change between reading the state and watching it (client-go
//! `watchtools.UntilWithSync`), with ready-made [`conditions`]; [`wait_until_cached`] waits
//! the same way on an informer's store.
//!
//! ```no_run
//! use std::time::Duration;
//! use k8s_client::Api;
//! use k8s_client::runtime::wait::{conditions, wait_until};
//! use k8s_openapi::api::apps::v1::Deployment;
//!
//! # async fn run(deployments: Api<Deployment>) -> Result<(), Box<dyn std::error::Error>> {
//! wait_until(&deployments, "web", Duration::from_secs(120), conditions::deployment_rolled_out)
//!     .await?;
//! # Ok(())
//! # }
//! ```

mod cached;
pub mod conditions;
mod retry_watcher;
mod until;

pub use cached::wait_until_cached;
pub use retry_watcher::{
    RetryWatcher, WatchError, MAX_RESTART_DELAY, MIN_RESTART_DELAY, MIN_WATCH_INTERVAL,
};
pub use until::{wait_until, wait_until_list, WaitError};
