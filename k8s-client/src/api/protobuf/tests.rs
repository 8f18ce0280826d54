//! Unit tests with canned bytes (captured from a Kubernetes 1.36 API server with curl, see
//! `testdata/`) and hand-built encodings, plus a deterministic randomized-input test.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrBool,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Status, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::envelope::{self, Decoded, Unknown};
use super::runtime::*;
use super::wire::put_varint;
use crate::api::{ObjectList, WatchEvent};

const CONFIGMAP_PB: &[u8] = include_bytes!("testdata/configmap.pb");
const CONFIGMAP_JSON: &[u8] = include_bytes!("testdata/configmap.json");
const LIST_PB: &[u8] = include_bytes!("testdata/configmap-list.pb");
const LIST_JSON: &[u8] = include_bytes!("testdata/configmap-list.json");
const STATUS_PB: &[u8] = include_bytes!("testdata/status-404.pb");
const WATCH_PB: &[u8] = include_bytes!("testdata/watch.pb");

fn object<K: ProtobufMessage>(bytes: &[u8], kind: &str) -> K {
    match envelope::decode_object::<K>(bytes, kind).unwrap() {
        Decoded::Object(k) => k,
        Decoded::Status(s) => panic!("status {s:?}"),
    }
}

#[test]
fn server_configmap_decodes_like_its_json() {
    let pb: ConfigMap = object(CONFIGMAP_PB, "ConfigMap");
    let json: ConfigMap = serde_json::from_slice(CONFIGMAP_JSON).unwrap();
    assert_eq!(pb, json);
    assert_eq!(
        pb.immutable,
        Some(false),
        "a pointer field set to false is present"
    );
    assert_eq!(
        pb.metadata.generate_name, None,
        "Go's empty non-pointer string is absent"
    );
    assert_eq!(pb.binary_data.unwrap()["b"].0, vec![0u8, 1]);

    let unknown = Unknown::decode(CONFIGMAP_PB).unwrap();
    assert_eq!(
        (unknown.api_version.as_str(), unknown.kind.as_str()),
        ("v1", "ConfigMap")
    );
}

#[test]
fn encoding_round_trips_and_is_accepted_by_our_decoder() {
    let cm: ConfigMap = serde_json::from_slice(CONFIGMAP_JSON).unwrap();
    let bytes = envelope::encode_object(&cm);
    assert!(bytes.starts_with(envelope::MAGIC));
    let back: ConfigMap = object(&bytes, "ConfigMap");
    assert_eq!(back, cm);
}

#[test]
fn server_list_decodes_like_its_json() {
    let pb = match envelope::decode_list::<ConfigMap>(LIST_PB, "ConfigMapList").unwrap() {
        Decoded::Object(l) => l,
        Decoded::Status(s) => panic!("{s:?}"),
    };
    let json: ObjectList<ConfigMap> = serde_json::from_slice(LIST_JSON).unwrap();
    assert_eq!(pb.items, json.items);
    assert_eq!(pb.metadata, json.metadata);
    assert_eq!(pb.items.len(), 1);

    let again = envelope::encode_list("v1", "ConfigMapList", &pb);
    match envelope::decode_list::<ConfigMap>(&again, "ConfigMapList").unwrap() {
        Decoded::Object(l) => assert_eq!(l.items, pb.items),
        Decoded::Status(s) => panic!("{s:?}"),
    }
}

#[test]
fn server_status_decodes() {
    let status = envelope::decode_status(STATUS_PB).unwrap();
    assert_eq!(status.reason.as_deref(), Some("NotFound"));
    assert_eq!(status.code, Some(404));
    assert_eq!(
        status.message.as_deref(),
        Some("configmaps \"pb-missing\" not found")
    );
    // The protobuf format hands the client this decoder for error bodies.
    let decoder = crate::api::format::Format::<ConfigMap>::status_decoder(
        &crate::api::format::protobuf::ProtobufFormat::<ConfigMap>::generated().unwrap(),
    )
    .unwrap();
    assert_eq!(decoder(STATUS_PB).as_ref(), Some(&status));
    let err = crate::error::ApiError::from_status(status.clone());
    assert_eq!((err.code, &err.status), (404, &status));
    // A Status where an object is expected is an error answer, not a decoding failure.
    assert!(matches!(
        envelope::decode_object::<ConfigMap>(STATUS_PB, "ConfigMap").unwrap(),
        Decoded::Status(_)
    ));
}

#[tokio::test]
async fn server_watch_frames_decode_from_any_chunking() {
    for chunk in [1usize, 3, 7, 64, 4096] {
        let chunks: Vec<crate::Result<bytes::Bytes>> = WATCH_PB
            .chunks(chunk)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let events: Vec<_> = super::decode_frames::<ConfigMap, _>(
            futures::stream::iter(chunks),
            "v1/ConfigMap".into(),
        )
        .collect()
        .await;
        assert_eq!(events.len(), 1, "chunk size {chunk}");
        match events.into_iter().next().unwrap().unwrap() {
            WatchEvent::Deleted(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("pb-canned")),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn truncated_watch_stream_is_an_error() {
    let cut = &WATCH_PB[..WATCH_PB.len() - 3];
    let events: Vec<_> = super::decode_frames::<ConfigMap, _>(
        futures::stream::iter([Ok(bytes::Bytes::copy_from_slice(cut))]),
        "v1/ConfigMap".into(),
    )
    .collect()
    .await;
    assert_eq!(events.len(), 1);
    let err = events.into_iter().next().unwrap().unwrap_err().to_string();
    assert!(err.contains("ended inside a frame"), "{err}");
}

#[test]
fn watch_event_kinds_and_bookmarks() {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("a".into());
    cm.metadata.resource_version = Some("42".into());
    cm.metadata.annotations =
        Some([("k8s.io/initial-events-end".to_string(), "true".to_string())].into());
    let unknown = Unknown {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        raw: cm.to_protobuf(),
        ..Unknown::default()
    };
    let frame = envelope::encode_watch_event("BOOKMARK", &unknown);
    match envelope::decode_watch_frame::<ConfigMap>(&frame, "ConfigMap").unwrap() {
        WatchEvent::Bookmark(b) => {
            assert_eq!(b.resource_version, "42");
            assert!(b.is_initial_events_end());
        }
        other => panic!("{other:?}"),
    }
    let frame = envelope::encode_watch_event("MODIFIED", &unknown);
    assert!(matches!(
        envelope::decode_watch_frame::<ConfigMap>(&frame, "ConfigMap").unwrap(),
        WatchEvent::Modified(c) if c == cm
    ));
    let status = Status {
        code: Some(410),
        reason: Some("Expired".into()),
        ..Status::default()
    };
    let gone = Unknown {
        api_version: "v1".into(),
        kind: "Status".into(),
        raw: status.to_protobuf(),
        ..Unknown::default()
    };
    let frame = envelope::encode_watch_event("ERROR", &gone);
    assert!(matches!(
        envelope::decode_watch_frame::<ConfigMap>(&frame, "ConfigMap").unwrap(),
        WatchEvent::Error(s) if s == status
    ));
    let frame = envelope::encode_watch_event("EXPLODED", &unknown);
    let err = envelope::decode_watch_frame::<ConfigMap>(&frame, "ConfigMap").unwrap_err();
    assert!(err.message.contains("EXPLODED"), "{err}");
}

#[test]
fn special_types() {
    // IntOrString { type, intVal, strVal }
    let dep: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "d"},
        "spec": {"replicas": 0, "selector": {}, "template": {},
                 "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": -1}}}
    }))
    .unwrap();
    let back = Deployment::decode_fields(&dep.to_protobuf()).unwrap();
    assert_eq!(back, dep);
    let ru = back.spec.strategy.unwrap().rolling_update.unwrap();
    assert_eq!(ru.max_surge, Some(IntOrString::String("25%".into())));
    assert_eq!(ru.max_unavailable, Some(IntOrString::Int(-1)));
    assert_eq!(back.spec.replicas, Some(0));

    // Time keeps seconds; the empty Time message is Go's zero time: absent.
    let t = Time("2024-05-01T10:00:00Z".parse().unwrap());
    let mut buf = Vec::new();
    put(&mut buf, 1, &t);
    let mut r = Reader::new(&buf, "test");
    let (_, wire) = r.next_key().unwrap().unwrap();
    let mut slot = None::<Time>;
    r.one(wire, &mut slot, "t").unwrap();
    assert_eq!(slot, Some(t));
    let mut slot = Some(Time("2000-01-01T00:00:00Z".parse().unwrap()));
    let mut r = Reader::new(&[0x0a, 0x00], "test");
    let (_, wire) = r.next_key().unwrap().unwrap();
    r.one(wire, &mut slot, "t").unwrap();
    assert_eq!(slot, None);

    // MicroTime keeps microseconds.
    let m = MicroTime("2024-05-01T10:00:00.123456Z".parse().unwrap());
    let mut buf = Vec::new();
    put(&mut buf, 1, &m);
    let mut r = Reader::new(&buf, "test");
    let (_, wire) = r.next_key().unwrap().unwrap();
    let mut slot = None::<MicroTime>;
    r.one(wire, &mut slot, "m").unwrap();
    assert_eq!(slot, Some(m));
}

#[test]
fn json_schema_props_round_trip() {
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "ws.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
          "names": {"plural": "ws", "kind": "W"},
          "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {
              "a": {"type": "array", "items": {"type": "string"}, "default": ["x"]},
              "b": {"type": "object", "additionalProperties": {"type": "integer"}},
              "c": {"type": "object", "additionalProperties": false},
              "d": {"type": "number", "maximum": 1.5, "enum": [0.5, 1.5]},
              "e": {"x-kubernetes-preserve-unknown-fields": true, "$ref": "#/x"}
            }}}}]}
    }))
    .unwrap();
    let back = CustomResourceDefinition::decode_fields(&crd.to_protobuf()).unwrap();
    assert_eq!(back, crd);
    let schema = back.spec.versions[0]
        .schema
        .clone()
        .unwrap()
        .open_api_v3_schema
        .unwrap();
    let props = schema.properties.unwrap();
    assert!(matches!(
        props["c"].additional_properties,
        Some(JSONSchemaPropsOrBool::Bool(false))
    ));
    assert!(
        matches!(&props["b"].additional_properties, Some(JSONSchemaPropsOrBool::Schema(s)) if **s == JSONSchemaProps { type_: Some("integer".into()), ..Default::default() })
    );
    assert_eq!(props["e"].ref_path.as_deref(), Some("#/x"));
}

#[test]
fn scalar_wire_details() {
    // Negative int32 is a ten-byte sign-extended varint; packed repeated fields decode too.
    let mut buf = Vec::new();
    put(&mut buf, 1, &-1i32);
    assert_eq!(buf.len(), 11);
    let mut r = Reader::new(&buf, "test");
    let (tag, wire) = r.next_key().unwrap().unwrap();
    let mut v = None::<i32>;
    r.one(wire, &mut v, "v").unwrap();
    assert_eq!((tag, v), (1, Some(-1)));

    let mut packed = Vec::new();
    for x in [1u64, 300, 5] {
        put_varint(&mut packed, x);
    }
    let mut buf = vec![0x0a, packed.len() as u8];
    buf.extend_from_slice(&packed);
    buf.extend_from_slice(&[0x08, 0x07]); // and one unpacked element
    let mut r = Reader::new(&buf, "test");
    let mut out = Vec::<i64>::new();
    while let Some((_, wire)) = r.next_key().unwrap() {
        r.repeated(wire, &mut out, "xs").unwrap();
    }
    assert_eq!(out, [1, 300, 5, 7]);
}

#[test]
fn unknown_fields_are_skipped() {
    let cm = ConfigMap {
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..ConfigMap::default()
    };
    let mut bytes = cm.to_protobuf();
    // Fields 99 (varint), 100 (fixed64), 101 (bytes), 102 (fixed32) are not in the schema.
    bytes.extend_from_slice(&[0x98, 0x06, 0x05]);
    bytes.extend_from_slice(&[0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    bytes.extend_from_slice(&[0xaa, 0x06, 0x02, 0xff, 0xff]);
    bytes.extend_from_slice(&[0xb5, 0x06, 1, 2, 3, 4]);
    assert_eq!(ConfigMap::decode_fields(&bytes).unwrap(), cm);
}

#[test]
fn bad_input_gives_errors_naming_where() {
    let mut pod = Pod::default();
    pod.metadata.name = Some("p".into());
    pod.spec = Some(Default::default());
    let mut bytes = pod.to_protobuf();
    // spec (field 2) holding a container (field 1) whose name (field 1) is not UTF-8.
    let container = [0x0a, 0x02, 0xff, 0xfe];
    let mut spec = vec![0x0a, container.len() as u8];
    spec.extend_from_slice(&container);
    bytes.extend_from_slice(&[0x12, spec.len() as u8]);
    bytes.extend_from_slice(&spec);
    let err = Pod::decode_fields(&bytes).unwrap_err().to_string();
    assert!(err.contains("Pod.spec") && err.contains("UTF-8"), "{err}");

    let err = Pod::decode_fields(&[0x0a, 0x05, 0x01])
        .unwrap_err()
        .to_string();
    assert!(err.contains("5 bytes but only 1 left"), "{err}");
    let err = Unknown::decode(b"{\"kind\":\"Pod\"}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("magic"), "{err}");
    let err = envelope::decode_object::<Pod>(CONFIGMAP_PB, "Pod")
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected kind Pod"), "{err}");
    let err = Pod::decode_fields(&[0x0b]).unwrap_err().to_string();
    assert!(err.contains("wire type 3"), "{err}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // JSONSchemaProps.not (field 28) nested 2000 deep.
    let mut bytes: Vec<u8> = Vec::new();
    for _ in 0..2000 {
        let mut outer = Vec::new();
        put_bytes(&mut outer, 28, &bytes);
        bytes = outer;
    }
    let err = JSONSchemaProps::decode_fields(&bytes)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nested more than"),
        "{}",
        &err[..err.len().min(300)]
    );
}

fn put_bytes(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    super::wire::put_bytes_field(buf, tag, bytes);
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn decode_everything(bytes: &[u8]) {
    let _ = Pod::decode_fields(bytes);
    let _ = Deployment::decode_fields(bytes);
    let _ = CustomResourceDefinition::decode_fields(bytes);
    let _ = Status::decode_fields(bytes);
    let _ = envelope::decode_object::<ConfigMap>(bytes, "ConfigMap");
    let _ = envelope::decode_list::<ConfigMap>(bytes, "ConfigMapList");
    let _ = envelope::decode_watch_frame::<ConfigMap>(bytes, "ConfigMap");
    let _ = envelope::decode_status(bytes);
}

/// Random and mutated inputs never panic the decoders (the fuzz target's job, deterministic).
#[test]
fn random_and_mutated_inputs_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let dep: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "d", "labels": {"a": "b"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"a": "b"}},
          "template": {"spec": {"containers": [{"name": "c", "image": "i",
            "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}}}]}}}
    }))
    .unwrap();
    let seeds: Vec<Vec<u8>> = vec![
        CONFIGMAP_PB.to_vec(),
        LIST_PB.to_vec(),
        STATUS_PB.to_vec(),
        WATCH_PB[4..].to_vec(),
        CONFIGMAP_PB[4..].to_vec(),
        dep.to_protobuf(),
        envelope::encode_object(&dep),
    ];
    for _ in 0..20_000 {
        let n = rng.below(64);
        let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        decode_everything(&bytes);
    }
    for i in 0..20_000 {
        let mut bytes = seeds[i % seeds.len()].clone();
        for _ in 0..1 + rng.below(4) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            match rng.below(4) {
                0 => bytes[at] = rng.next() as u8,
                1 => bytes[at] ^= 1 << rng.below(8),
                2 => bytes.truncate(at),
                _ => bytes.insert(at, rng.next() as u8),
            }
        }
        decode_everything(&bytes);
    }
}

#[test]
fn decoded_lists_have_no_spare_capacity() {
    use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, Volume};
    let env: Vec<EnvVar> = (0..5)
        .map(|i| EnvVar {
            name: format!("E{i}"),
            value: Some(i.to_string()),
            ..Default::default()
        })
        .collect();
    let container = |name: &str| Container {
        name: name.into(),
        env: Some(env.clone()),
        ..Default::default()
    };
    let mut pod = Pod::default();
    pod.metadata.finalizers = Some(vec!["a".into(), "b".into(), "c".into()]);
    pod.spec = Some(PodSpec {
        containers: vec![container("one"), container("two"), container("three")],
        volumes: Some(vec![Volume {
            name: "v".into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let back = Pod::decode_fields(&pod.to_protobuf()).unwrap();
    assert_eq!(back, pod);
    let spec = back.spec.as_ref().unwrap();
    // Required lists (containers) and optional ones (env, volumes, finalizers) alike: what an
    // informer caches without a trimming copy.
    assert_eq!(spec.containers.capacity(), 3);
    for c in &spec.containers {
        assert_eq!(c.env.as_ref().unwrap().capacity(), 5);
    }
    assert_eq!(spec.volumes.as_ref().unwrap().capacity(), 1);
    assert_eq!(back.metadata.finalizers.as_ref().unwrap().capacity(), 3);
}

#[test]
fn managed_fields_can_be_skipped_while_decoding() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    let mut pod = Pod::default();
    pod.metadata.name = Some("web".into());
    pod.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
    pod.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some("kubectl".into()),
        fields_v1: Some(FieldsV1(
            serde_json::json!({"f:metadata": {"f:labels": {}}}),
        )),
        ..Default::default()
    }]);
    let bytes = pod.to_protobuf();
    let lean: Pod = decode_without_managed_fields(&bytes).unwrap();
    let mut expected = pod.clone();
    expected.metadata.managed_fields = None;
    assert_eq!(lean, expected);
    // Only that decode skips them: the flag is back off afterwards, also after an error.
    assert!(!skipping_managed_fields());
    assert_eq!(Pod::decode_fields(&bytes).unwrap(), pod);
    assert!(decode_without_managed_fields::<Pod>(&[0xff]).is_err());
    assert!(!skipping_managed_fields());
    // Through a list (every item) and a registry codec.
    let list = ObjectList {
        items: vec![pod.clone(), pod.clone()],
        ..ObjectList::default()
    };
    let body = envelope::encode_list("v1", "PodList", &list);
    let codec = super::registry::codec::<Pod>()
        .unwrap()
        .without_managed_fields();
    match envelope::decode_list_with(&body, "PodList", codec.list_items(4)).unwrap() {
        Decoded::Object(l) => assert_eq!(l.items, vec![expected.clone(), expected]),
        Decoded::Status(s) => panic!("{s:?}"),
    }
}
