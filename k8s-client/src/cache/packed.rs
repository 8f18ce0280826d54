//! How a compact [`Store`](super::Store) keeps objects: each one serialized to JSON and
//! compressed with LZ4 (block format, the uncompressed size in front), decoded again on read.
//!
//! A decoded k8s-openapi Pod with managedFields takes about 55 KB of heap (every list and
//! map inside it is its own allocation, and `FieldsV1` is a tree of `serde_json::Value`
//! maps); packed, the same Pod takes about 3 KB. JSON is used rather than protobuf because it
//! round-trips every field of every type exactly (custom resources and dynamic objects
//! included, and k8s-openapi versions newer than the generated protobuf codecs).

use std::fmt;

#[cfg(feature = "compact")]
use serde::de::DeserializeOwned;
#[cfg(feature = "compact")]
use serde::Serialize;

/// How a compact store packs objects: the encode and decode functions (plain function
/// pointers, so stores and informers need no extra bounds on `K`), made by `Packing::json`
/// (feature `compact`).
///
/// ```
/// use k8s_client::cache::{InformerOptions, Packing};
/// use k8s_openapi::api::core::v1::Pod;
///
/// let mut options = InformerOptions::<Pod>::default();
/// options.packing = Some(Packing::json()); // what `.compact()` does
/// assert!(options.packing.is_some());
/// ```
pub struct Packing<K> {
    pack: fn(&K) -> Result<Vec<u8>, String>,
    unpack: fn(&[u8]) -> Result<K, String>,
}

impl<K> Clone for Packing<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Packing<K> {}

impl<K> fmt::Debug for Packing<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Packing(json+lz4)")
    }
}

#[cfg(feature = "compact")]
fn pack_json<K: Serialize>(obj: &K) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec(obj).map_err(|e| format!("encoding as JSON: {e}"))?;
    Ok(lz4_flex::block::compress_prepend_size(&json))
}

#[cfg(feature = "compact")]
fn unpack_json<K: DeserializeOwned>(bytes: &[u8]) -> Result<K, String> {
    let json = lz4_flex::block::decompress_size_prepended(bytes)
        .map_err(|e| format!("decompressing: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("decoding JSON: {e}"))
}

#[cfg(feature = "compact")]
impl<K: Serialize + DeserializeOwned> Packing<K> {
    /// JSON compressed with LZ4 (exact for every serde type).
    #[cfg_attr(docsrs, doc(cfg(feature = "compact")))]
    pub fn json() -> Self {
        Packing {
            pack: pack_json::<K>,
            unpack: unpack_json::<K>,
        }
    }
}

impl<K> Packing<K> {
    /// The packed form of `obj` (exactly sized).
    pub(crate) fn pack(&self, obj: &K) -> Result<Box<[u8]>, String> {
        (self.pack)(obj).map(Vec::into_boxed_slice)
    }

    /// The object `bytes` were packed from.
    pub(crate) fn unpack(&self, bytes: &[u8]) -> Result<K, String> {
        (self.unpack)(bytes)
    }

    /// This packing with another decode function (tests count decodes with it).
    #[cfg(all(test, feature = "compact"))]
    pub(crate) fn with_unpack(mut self, unpack: fn(&[u8]) -> Result<K, String>) -> Self {
        self.unpack = unpack;
        self
    }
}

#[cfg(all(test, feature = "compact"))]
mod tests {
    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    use super::*;
    use crate::dynamic::DynamicObject;

    fn pod() -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some("web-0".into());
        p.metadata.namespace = Some("default".into());
        p.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        p.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
            manager: Some("kubectl".into()),
            fields_v1: Some(FieldsV1(
                serde_json::json!({"f:spec": {"f:containers": {}}}),
            )),
            ..Default::default()
        }]);
        p.spec = Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some("nginx:1.27".into()),
                ..Default::default()
            }],
            // Present but empty: must come back present and empty, not absent.
            volumes: Some(Vec::new()),
            ..Default::default()
        });
        p
    }

    #[test]
    fn typed_objects_round_trip_exactly_and_shrink() {
        let packing = Packing::<Pod>::json();
        let p = pod();
        let packed = packing.pack(&p).unwrap();
        assert_eq!(packing.unpack(&packed).unwrap(), p);
        assert!(packed.len() < serde_json::to_vec(&p).unwrap().len());
    }

    #[test]
    fn dynamic_objects_round_trip_exactly() {
        let packing = Packing::<DynamicObject>::json();
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "namespace": "ns"},
            "spec": {"size": 3, "tags": ["a", "b"], "nested": {"x": null}},
        }))
        .unwrap();
        let back = packing.unpack(&packing.pack(&obj).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&obj).unwrap()
        );
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let packing = Packing::<Pod>::json();
        let packed = packing.pack(&pod()).unwrap();
        assert!(packing.unpack(&[]).is_err());
        assert!(packing.unpack(&packed[..packed.len() / 2]).is_err());
        // The size in front is smaller than what the block holds.
        let mut bad = packed.to_vec();
        let size = u32::from_le_bytes([bad[0], bad[1], bad[2], bad[3]]);
        bad[..4].copy_from_slice(&(size / 2).to_le_bytes());
        assert!(packing.unpack(&bad).is_err());
        // Garbage after the size.
        let mut bad = packed.to_vec();
        for b in &mut bad[4..] {
            *b = 0xff;
        }
        assert!(packing.unpack(&bad).is_err());
    }
}
