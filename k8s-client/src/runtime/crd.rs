//! Installing CustomResourceDefinitions: create or apply one, then wait until the server
//! serves it (`Established`), failing early and clearly when its names are rejected.
//!
//! ```no_run
//! use std::time::Duration;
//! use k8s_client::runtime::crd;
//! use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
//!
//! # async fn run(client: k8s_client::Client, def: CustomResourceDefinition)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let installed = crd::apply(&client, &def, "my-operator", Duration::from_secs(30)).await?;
//! let resource = crd::api_resource(&installed, "v1").expect("the CRD serves v1");
//! println!("serving {}", resource.gvr());
//! # Ok(())
//! # }
//! ```

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use crate::api::{
    Api, ApiResource, DeleteParams, GroupVersionKind, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use crate::client::Client;
use crate::error::Error;

/// Why a CustomResourceDefinition could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrdError {
    /// A request failed (the CRD is invalid, already exists, we may not create it, ...).
    /// The [`Error`] is this error's source, so `is_not_found()` and friends (on this error,
    /// or on the [`Error`] it converts into) see the server's answer.
    #[error("{0}")]
    Api(#[from] Error),
    /// The definition has no `metadata.name` (which must be `<plural>.<group>`).
    #[error("the CustomResourceDefinition has no metadata.name (it must be <plural>.<group>)")]
    Unnamed,
    /// The server refused the CRD's names (`NamesAccepted=False`), usually because another
    /// CRD of the group already uses its plural, kind, short name or list kind.
    #[error("CustomResourceDefinition {name}: names not accepted ({reason}): {message}")]
    NamesNotAccepted {
        /// The CRD's name.
        name: String,
        /// The condition's reason (`MultipleNamesNotAllowed`, ...).
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// The CRD was deleted while we waited for it.
    #[error("CustomResourceDefinition {name} was deleted while waiting for it to be established")]
    Deleted {
        /// The CRD's name.
        name: String,
    },
    /// The CRD was not `Established` in time.
    #[error("CustomResourceDefinition {name} was not established within {timeout:?}; last conditions: {conditions}")]
    Timeout {
        /// The CRD's name.
        name: String,
        /// How long we waited.
        timeout: Duration,
        /// Its conditions when we gave up (`Established=False (Installing: ...)`).
        conditions: String,
    },
}

/// Where a CRD is on its way to being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrdState {
    /// `Established=True`: the server serves its resources.
    Established,
    /// `NamesAccepted=False`: it will not be served until its names are changed.
    NamesRejected {
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// Not yet established.
    Pending,
}

/// The state `crd`'s status tells: established when its `Established` and `NamesAccepted`
/// conditions are `True` and the accepted names are the spec's.
pub fn state(crd: &CustomResourceDefinition) -> CrdState {
    let conditions = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let find = |t: &str| conditions.iter().find(|c| c.type_ == t);
    if let Some(c) = find("NamesAccepted").filter(|c| c.status == "False") {
        return CrdState::NamesRejected {
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default(),
        };
    }
    let is_true = |t: &str| find(t).is_some_and(|c| c.status == "True");
    if is_true("Established") && is_true("NamesAccepted") && spec_names_accepted(crd) {
        return CrdState::Established;
    }
    CrdState::Pending
}

/// Whether the names the server accepted are the spec's (after a change of names, the old
/// ones are served until the new ones are accepted).
fn spec_names_accepted(crd: &CustomResourceDefinition) -> bool {
    let Some(accepted) = crd.status.as_ref().and_then(|s| s.accepted_names.as_ref()) else {
        return false;
    };
    let wanted = &crd.spec.names;
    let short = |names: &Option<Vec<String>>| {
        let mut v = names.clone().unwrap_or_default();
        v.sort();
        v
    };
    accepted.plural == wanted.plural
        && accepted.kind == wanted.kind
        && short(&accepted.short_names) == short(&wanted.short_names)
}

/// `crd`'s conditions in one line, for messages: `Established=False (Installing: ...)`.
pub fn describe_conditions(crd: &CustomResourceDefinition) -> String {
    let conditions = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    if conditions.is_empty() {
        return "none yet".to_string();
    }
    conditions
        .iter()
        .map(|c| {
            let mut s = format!("{}={}", c.type_, c.status);
            match (c.reason.as_deref(), c.message.as_deref()) {
                (Some(r), Some(m)) if !m.is_empty() => s.push_str(&format!(" ({r}: {m})")),
                (Some(r), _) if !r.is_empty() => s.push_str(&format!(" ({r})")),
                _ => {}
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The [`ApiResource`] of `crd`'s `version` (`None` when the CRD has no such version), for
/// a [`DynamicApi`](crate::dynamic::DynamicApi).
pub fn api_resource(crd: &CustomResourceDefinition, version: &str) -> Option<ApiResource> {
    let spec = &crd.spec;
    spec.versions.iter().find(|v| v.name == version)?;
    let gvk = GroupVersionKind::new(&spec.group, version, &spec.names.kind);
    Some(ApiResource::from_gvk(
        &gvk,
        &spec.names.plural,
        spec.scope == "Namespaced",
    ))
}

/// Creates `crd` and waits until it is established (see [`wait_established`]). An existing
/// CRD of the same name is an error ([`Error::is_already_exists`]); use [`apply`] to
/// install idempotently.
pub async fn create(
    client: &Client,
    crd: &CustomResourceDefinition,
    timeout: Duration,
) -> Result<CustomResourceDefinition, CrdError> {
    let name = crd.metadata.name.clone().ok_or(CrdError::Unnamed)?;
    let started = Instant::now();
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), crd)
        .await?;
    wait_established(client, &name, timeout.saturating_sub(started.elapsed())).await
}

/// Installs or updates `crd` by server-side apply as `field_manager` (forcing ownership of
/// its fields), then waits until it is established (see [`wait_established`]).
pub async fn apply(
    client: &Client,
    crd: &CustomResourceDefinition,
    field_manager: &str,
    timeout: Duration,
) -> Result<CustomResourceDefinition, CrdError> {
    let name = crd.metadata.name.clone().ok_or(CrdError::Unnamed)?;
    let started = Instant::now();
    // Only the fields this manager sets are sent: not the status, nor server-set metadata.
    let mut config = crd.clone();
    config.status = None;
    config.metadata.resource_version = None;
    config.metadata.managed_fields = None;
    config.metadata.uid = None;
    config.metadata.generation = None;
    config.metadata.creation_timestamp = None;
    Api::<CustomResourceDefinition>::all(client.clone())
        .patch(
            &name,
            &PatchParams::apply(field_manager).force(),
            &Patch::Apply(&config),
        )
        .await?;
    wait_established(client, &name, timeout.saturating_sub(started.elapsed())).await
}

/// Waits until the CRD `name` is `Established` (its resources are served) and returns it.
/// Fails at once when its names are rejected (`NamesAccepted=False`), when it does not
/// exist or is deleted, and after `timeout` with the conditions it had then.
pub async fn wait_established(
    client: &Client,
    name: &str,
    timeout: Duration,
) -> Result<CustomResourceDefinition, CrdError> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let mut last: Option<CustomResourceDefinition> = None;
    let waited =
        tokio::time::timeout(timeout, watch_until_established(&api, name, &mut last)).await;
    match waited {
        Ok(result) => result,
        Err(_) => Err(CrdError::Timeout {
            name: name.to_string(),
            timeout,
            conditions: last
                .as_ref()
                .map(describe_conditions)
                .unwrap_or_else(|| "unknown (the CRD was never read)".to_string()),
        }),
    }
}

/// Reads the CRD, then watches it until its state is final; `last` is the latest version
/// seen (for the timeout message).
async fn watch_until_established(
    api: &Api<CustomResourceDefinition>,
    name: &str,
    last: &mut Option<CustomResourceDefinition>,
) -> Result<CustomResourceDefinition, CrdError> {
    let decide = |crd: CustomResourceDefinition| -> Option<Result<_, CrdError>> {
        match state(&crd) {
            CrdState::Established => Some(Ok(crd)),
            CrdState::NamesRejected { reason, message } => Some(Err(CrdError::NamesNotAccepted {
                name: name.to_string(),
                reason,
                message,
            })),
            CrdState::Pending => None,
        }
    };
    let selector = format!("metadata.name={name}");
    loop {
        let crd = api.get(name).await?;
        let resource_version = crd.metadata.resource_version.clone().unwrap_or_default();
        *last = Some(crd.clone());
        if let Some(done) = decide(crd) {
            return done;
        }
        // The server ends a watch after `timeoutSeconds`; the caller's timeout is what
        // bounds the wait, so a generous one is asked for and the loop reads again.
        let params = WatchParams::default().fields(&selector).timeout(300);
        let events = api.watch(&params, &resource_version).await?;
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.try_next().await? {
            match event {
                WatchEvent::Added(crd) | WatchEvent::Modified(crd) => {
                    *last = Some(crd.clone());
                    if let Some(done) = decide(crd) {
                        return done;
                    }
                }
                WatchEvent::Deleted(_) => {
                    return Err(CrdError::Deleted {
                        name: name.to_string(),
                    })
                }
                WatchEvent::Bookmark(_) => {}
                // Expired or another watch error: read again and watch from there.
                WatchEvent::Error(_) => break,
            }
        }
    }
}

/// Deletes the CRD `name` (and with it every object of its kind), without waiting for it to
/// disappear. A CRD that does not exist is not an error.
pub async fn delete(client: &Client, name: &str) -> Result<(), Error> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

crate::__status_questions!(CrdError);

impl From<CrdError> for crate::error::Error {
    /// Kept whole as [`Error::Other`]: `is_not_found()` and
    /// friends see the API error inside, and `find::<CrdError>()` gives it back.
    fn from(e: CrdError) -> Self {
        crate::error::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceDefinitionCondition, CustomResourceDefinitionNames,
        CustomResourceDefinitionSpec, CustomResourceDefinitionStatus,
        CustomResourceDefinitionVersion,
    };

    use super::*;

    fn condition(
        t: &str,
        status: &str,
        reason: &str,
        message: &str,
    ) -> CustomResourceDefinitionCondition {
        CustomResourceDefinitionCondition {
            type_: t.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            ..Default::default()
        }
    }

    fn crd(conditions: Vec<CustomResourceDefinitionCondition>) -> CustomResourceDefinition {
        CustomResourceDefinition {
            spec: CustomResourceDefinitionSpec {
                group: "example.com".into(),
                names: CustomResourceDefinitionNames {
                    kind: "Foo".into(),
                    plural: "foos".into(),
                    ..Default::default()
                },
                scope: "Namespaced".into(),
                versions: vec![CustomResourceDefinitionVersion {
                    name: "v1".into(),
                    served: true,
                    storage: true,
                    ..Default::default()
                }],
                ..Default::default()
            },
            status: Some(CustomResourceDefinitionStatus {
                conditions: Some(conditions),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn states_from_conditions() {
        assert_eq!(state(&crd(vec![])), CrdState::Pending);
        assert_eq!(describe_conditions(&crd(vec![])), "none yet");
        let installing = crd(vec![
            condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
            condition(
                "Established",
                "False",
                "Installing",
                "the initial names have been accepted",
            ),
        ]);
        assert_eq!(state(&installing), CrdState::Pending);
        assert_eq!(
            describe_conditions(&installing),
            "NamesAccepted=True (NoConflicts: no conflicts found), \
             Established=False (Installing: the initial names have been accepted)"
        );
        let done = crd(vec![
            condition("NamesAccepted", "True", "NoConflicts", ""),
            condition("Established", "True", "InitialNamesAccepted", ""),
        ]);
        assert_eq!(state(&done), CrdState::Pending, "no accepted names yet");
        let mut done = done;
        let status = done.status.as_mut().unwrap();
        status.accepted_names = Some(CustomResourceDefinitionNames {
            kind: "Foo".into(),
            plural: "foos".into(),
            short_names: Some(vec![]),
            ..Default::default()
        });
        assert_eq!(state(&done), CrdState::Established);
        // After a change of names, established once the new ones are accepted.
        done.spec.names.short_names = Some(vec!["fo".into()]);
        assert_eq!(state(&done), CrdState::Pending);
        let mut accepted_new = done.clone();
        accepted_new.status.as_mut().unwrap().accepted_names = Some(done.spec.names.clone());
        assert_eq!(state(&accepted_new), CrdState::Established);
        let rejected = crd(vec![condition(
            "NamesAccepted",
            "False",
            "MultipleNamesNotAllowed",
            "\"foos\" is already in use",
        )]);
        assert_eq!(
            state(&rejected),
            CrdState::NamesRejected {
                reason: "MultipleNamesNotAllowed".into(),
                message: "\"foos\" is already in use".into()
            }
        );
    }

    #[test]
    fn api_resource_of_a_version() {
        let r = api_resource(&crd(vec![]), "v1").unwrap();
        assert_eq!(r.api_version(), "example.com/v1");
        assert_eq!(
            (r.kind.as_str(), r.plural.as_str(), r.namespaced),
            ("Foo", "foos", true)
        );
        assert!(api_resource(&crd(vec![]), "v2").is_none());
    }
}
