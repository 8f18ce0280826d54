//! Finds a type's protobuf codec at run time, by `TypeId`: how [`Api<K>`](crate::Api) speaks
//! protobuf for the built-in types without a `ProtobufMessage` bound on `K` (custom resources
//! and dynamic objects have no codec and stay JSON).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::OnceLock;

use super::parallel::{Decode, ParallelItems};
use super::runtime::{DecodeError, ProtobufMessage};

/// The codec of one type: its message fields, without envelope.
pub(crate) struct Codec<K> {
    /// Decodes the message's fields.
    pub(crate) decode: fn(&[u8]) -> Result<K, DecodeError>,
    /// Appends the message's fields.
    pub(crate) encode: fn(&K, &mut Vec<u8>),
    /// Decodes the message's fields, skipping `metadata.managedFields`.
    pub(crate) decode_without_managed_fields: fn(&[u8]) -> Result<K, DecodeError>,
    /// Makes the decoder of a list's items (decoded on more than one thread when many).
    pub(crate) items: fn(Decode<K>) -> ParallelItems<K>,
}

/// Every generated codec, keyed by the type it is for.
pub(crate) struct Registry {
    codecs: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl<K> Clone for Codec<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Codec<K> {}

impl<K> Codec<K> {
    /// A decoder for a list's items, on at most `threads` threads.
    pub(crate) fn list_items(&self, threads: usize) -> ParallelItems<K> {
        (self.items)(self.decode).threads(threads)
    }

    /// The same codec, decoding without `metadata.managedFields`.
    pub(crate) fn without_managed_fields(self) -> Self {
        Codec {
            decode: self.decode_without_managed_fields,
            ..self
        }
    }
}

impl<K: ProtobufMessage> Codec<K> {
    /// The codec of a type that implements [`ProtobufMessage`].
    pub(crate) fn of() -> Self {
        Codec {
            decode: K::decode_fields,
            encode: K::encode_fields,
            decode_without_managed_fields: super::runtime::decode_without_managed_fields::<K>,
            items: ParallelItems::new,
        }
    }
}

impl Registry {
    /// Adds `K`'s codec.
    pub(super) fn add<K: ProtobufMessage + 'static>(&mut self) {
        self.codecs
            .insert(TypeId::of::<K>(), Box::new(Codec::<K>::of()));
    }
}

/// `K`'s codec, when `K` is a built-in type with one.
pub(crate) fn codec<K: 'static>() -> Option<Codec<K>> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(|| {
        let mut r = Registry {
            codecs: HashMap::new(),
        };
        super::generated::register(&mut r);
        r
    });
    registry
        .codecs
        .get(&TypeId::of::<K>())?
        .downcast_ref()
        .copied()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;

    use super::*;
    use crate::dynamic::DynamicObject;

    #[test]
    fn built_in_types_have_codecs_and_others_do_not() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        let pods = codec::<Pod>().expect("Pod has a codec");
        let mut buf = Vec::new();
        (pods.encode)(&pod, &mut buf);
        assert_eq!((pods.decode)(&buf).unwrap(), pod);
        assert!(codec::<Deployment>().is_some());
        assert!(codec::<DynamicObject>().is_none());
        assert!(codec::<String>().is_none());
    }
}
