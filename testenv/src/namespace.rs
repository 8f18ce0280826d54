//! A namespace per test, deleted when dropped.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_client::api::{DeleteParams, PostParams};
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::error::Error;

/// The label every namespace made by [`TestEnv::namespace`](super::TestEnv::namespace) carries.
pub const NAMESPACE_LABEL: &str = "k8s-client-testenv";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace made for one test; deleted when dropped (also when the test panics).
///
/// Without the controller manager the namespace stays `Terminating` after the deletion (no
/// controller empties it), which does not disturb other tests: every test has its own.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    config: Config,
}

impl TestNamespace {
    /// The namespace's name: the prefix and a suffix unique in this process and run.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) async fn create(config: &Config, prefix: &str) -> Result<TestNamespace, Error> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut prefix: String = prefix
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(40)
            .collect();
        if prefix.is_empty() || !prefix.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            prefix.insert(0, 't');
        }
        let name = format!(
            "{}-{:x}{:x}-{n}",
            prefix.trim_end_matches('-'),
            std::process::id() % 0xffff,
            nanos % 0xfffff
        );
        let client = Client::try_from(config.clone()).map_err(Error::client("making a client"))?;
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(NAMESPACE_LABEL.to_string(), "true".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client)
            .create(&PostParams::default(), &ns)
            .await
            .map_err(Error::client(format!("creating namespace {name}")))?;
        Ok(TestNamespace {
            name,
            config: config.clone(),
        })
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be the one blocked here: delete on a
        // thread of our own with a client (and connections) of its own.
        let name = std::mem::take(&mut self.name);
        let config = self.config.clone();
        let deleting = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("k8s-client-testenv: cannot delete namespace {name}: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let result = match Client::try_from(config) {
                    Ok(client) => Api::<Namespace>::all(client)
                        .delete(&name, &DeleteParams::default())
                        .await
                        .map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    if !e.is_not_found() {
                        eprintln!("k8s-client-testenv: deleting namespace {name}: {e}");
                    }
                }
            });
        });
        let _ = deleting.join();
    }
}
