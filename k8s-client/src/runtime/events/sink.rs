//! Writing Events to the API server: `events.k8s.io/v1` (with `series`) or core/v1 (with
//! `count`), create for a new series, merge patch for a repeat.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::series::Series;
use crate::api::{Api, Patch, PatchParams, PostParams};
use crate::{Client, Error};

/// Which Event API a recorder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventApi {
    /// `events.k8s.io/v1` Events: `note`, `action`, `regarding`, `series` (the default, as
    /// client-go's `tools/events`).
    #[default]
    EventsV1,
    /// Core `v1` Events: `message`, `involvedObject`, `count`, `firstTimestamp` and
    /// `lastTimestamp` (as client-go's `tools/record`), for tools that only read those.
    CoreV1,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrote {
    Created,
    Patched,
}

/// Writes Events for one reporter.
#[derive(Debug)]
pub(crate) struct Sink {
    client: Client,
    api: EventApi,
    controller: String,
    instance: String,
    /// The last suffix handed out, so names never repeat.
    last_suffix: u128,
}

/// The namespace an Event about `series.record.regarding` goes to: the object's, or
/// `default` for cluster-scoped objects.
fn namespace_of(series: &Series) -> &str {
    match series.record.regarding.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => ns,
        _ => "default",
    }
}

/// `<object name>.<suffix in hex>`, made a valid DNS subdomain of at most 253 characters.
fn event_name(object_name: &str, suffix: u128) -> String {
    let mut prefix: String = object_name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '.') => c,
            _ => '-',
        })
        .collect();
    // A u128 in hex has at most 32 digits.
    prefix.truncate(253 - 1 - 32);
    let prefix = prefix.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let prefix = if prefix.is_empty() { "event" } else { prefix };
    format!("{prefix}.{suffix:x}")
}

fn count_i32(count: u32) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

#[derive(Serialize)]
struct SeriesPatch<'a> {
    series: &'a events::EventSeries,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CountPatch {
    count: i32,
    last_timestamp: Time,
}

impl Sink {
    pub(crate) fn new(client: Client, api: EventApi, controller: String, instance: String) -> Self {
        Sink {
            client,
            api,
            controller,
            instance,
            last_suffix: 0,
        }
    }

    /// A fresh Event name: the object's name (made a valid DNS subdomain) and a hex suffix
    /// from the clock, as client-go's `<name>.<unix nanos in hex>`.
    fn next_name(&mut self, series: &Series) -> String {
        let nanos = u128::try_from(Timestamp::now().as_nanosecond()).unwrap_or_default();
        self.last_suffix = nanos.max(self.last_suffix + 1);
        let base = series.record.regarding.name.as_deref().unwrap_or_default();
        event_name(base, self.last_suffix)
    }

    /// Creates a new Event for `series` (with its count so far); returns its name.
    pub(crate) async fn create(&mut self, series: &Series) -> Result<String, Error> {
        let name = self.next_name(series);
        let namespace = namespace_of(series).to_string();
        let meta = ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        };
        let record = &series.record;
        let note = (!record.note.is_empty()).then(|| record.note.clone());
        match self.api {
            EventApi::EventsV1 => {
                let event = events::Event {
                    metadata: meta,
                    event_time: Some(MicroTime(series.first_time)),
                    series: (series.count > 1).then(|| events::EventSeries {
                        count: count_i32(series.count),
                        last_observed_time: MicroTime(series.last_time),
                    }),
                    reporting_controller: Some(self.controller.clone()),
                    reporting_instance: Some(self.instance.clone()),
                    action: Some(record.action.clone()),
                    reason: Some(record.reason.clone()),
                    regarding: Some(record.regarding.clone()),
                    related: record.related.clone(),
                    note,
                    type_: Some(record.type_.as_str().to_string()),
                    ..events::Event::default()
                };
                Api::<events::Event>::namespaced(self.client.clone(), &namespace)
                    .create(&PostParams::default(), &event)
                    .await?;
            }
            EventApi::CoreV1 => {
                let event = core::Event {
                    metadata: meta,
                    involved_object: record.regarding.clone(),
                    related: record.related.clone(),
                    reason: Some(record.reason.clone()),
                    message: note,
                    action: Some(record.action.clone()),
                    type_: Some(record.type_.as_str().to_string()),
                    count: Some(count_i32(series.count)),
                    first_timestamp: Some(Time(series.first_time)),
                    last_timestamp: Some(Time(series.last_time)),
                    source: Some(core::EventSource {
                        component: Some(self.controller.clone()),
                        host: None,
                    }),
                    reporting_component: Some(self.controller.clone()),
                    reporting_instance: Some(self.instance.clone()),
                    ..core::Event::default()
                };
                Api::<core::Event>::namespaced(self.client.clone(), &namespace)
                    .create(&PostParams::default(), &event)
                    .await?;
            }
        }
        Ok(name)
    }

    /// Writes the count of an existing Event (a new Event when it was deleted meanwhile).
    /// Returns what was written and the Event's name.
    pub(crate) async fn update(&mut self, series: &Series) -> Result<(Wrote, String), Error> {
        if series.name.is_empty() {
            // Its creation failed: try again.
            let name = self.create(series).await?;
            return Ok((Wrote::Created, name));
        }
        let namespace = namespace_of(series).to_string();
        let result = match self.api {
            EventApi::EventsV1 => {
                let patch = SeriesPatch {
                    series: &events::EventSeries {
                        count: count_i32(series.count),
                        last_observed_time: MicroTime(series.last_time),
                    },
                };
                Api::<events::Event>::namespaced(self.client.clone(), &namespace)
                    .patch(&series.name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                    .map(drop)
            }
            EventApi::CoreV1 => {
                let patch = CountPatch {
                    count: count_i32(series.count),
                    last_timestamp: Time(series.last_time),
                };
                Api::<core::Event>::namespaced(self.client.clone(), &namespace)
                    .patch(&series.name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                    .map(drop)
            }
        };
        match result {
            Ok(()) => Ok((Wrote::Patched, series.name.clone())),
            Err(e) if e.is_not_found() => {
                let name = self.create(series).await?;
                Ok((Wrote::Created, name))
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_dns_subdomains() {
        assert_eq!(event_name("web-0", 0xabc), "web-0.abc");
        assert_eq!(
            event_name("system:controller:Foo", 1),
            "system-controller-foo.1"
        );
        assert_eq!(event_name("::", 2), "event.2");
        let long = event_name(&"a".repeat(300), u128::MAX);
        assert_eq!(long.len(), 253);
        assert_eq!(count_i32(u32::MAX), i32::MAX);
    }
}
