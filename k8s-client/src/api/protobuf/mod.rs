//! The Kubernetes protobuf wire format (`application/vnd.kubernetes.protobuf`) for the
//! k8s-openapi types (feature `protobuf`).
//!
//! - [`ProtobufMessage`]: encode and decode one k8s-openapi type; implemented for every
//!   built-in type by code generated from the Kubernetes `.proto` schemas
//!   (`codegen/gen_protobuf.py`), so programs keep one set of types.
//! - [`envelope`]: the `k8s\0` magic and `runtime.Unknown` envelope, lists, `Status`, watch
//!   frames.
//! - [`Api<K>`](crate::Api) uses protobuf by default for every type with a codec (get, list,
//!   watch, create, replace, patch, delete, delete_collection, status): it asks for
//!   `application/vnd.kubernetes.protobuf` with JSON as the server's second choice and falls
//!   back to JSON for good on that handle when refused (`406`/`415`). Custom resources and
//!   dynamic objects have no codec and stay JSON; [`Api::json`](crate::Api::json) opts a
//!   handle out.
//!
//! Generated codecs exist for the Kubernetes versions whose schemas were available:
//! k8s-openapi `v1_33`, `v1_36` and `v1_37` (`v1_37` uses the 1.36 schemas; its fields that
//! 1.36 lacks are left unset on decode and not sent). `v1_34` and `v1_35` are not covered.
//!
//! ```
//! use k8s_client::protobuf::{envelope, ProtobufMessage};
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! let mut cm = ConfigMap::default();
//! cm.metadata.name = Some("settings".into());
//! cm.data = Some([("mode".to_string(), "fast".to_string())].into());
//! let body = envelope::encode_object(&cm);
//! assert!(body.starts_with(envelope::MAGIC));
//! match envelope::decode_object::<ConfigMap>(&body, "ConfigMap").unwrap() {
//!     envelope::Decoded::Object(back) => assert_eq!(back, cm),
//!     envelope::Decoded::Status(_) => unreachable!(),
//! }
//! ```

pub mod envelope;
mod fields_json;
pub(crate) mod list_stream;
mod parallel;
pub(crate) mod registry;
#[doc(hidden)]
pub mod runtime;
mod special;
mod wire;

pub use crate::api::format::protobuf::{decode_frames, ACCEPT};
pub use runtime::ProtobufMessage;
pub use wire::DecodeError;

k8s_openapi::k8s_if_1_33! {
    #[path = "generated/v1_33.rs"]
    mod generated;
}
k8s_openapi::k8s_if_1_36! {
    #[path = "generated/v1_36.rs"]
    mod generated;
}
k8s_openapi::k8s_if_1_37! {
    #[path = "generated/v1_37.rs"]
    mod generated;
}
k8s_openapi::k8s_if_1_34! {
    compile_error!("k8s-client feature `protobuf` has codecs for k8s-openapi v1_33, v1_36 and v1_37 only; v1_34 is not covered");
}
k8s_openapi::k8s_if_1_35! {
    compile_error!("k8s-client feature `protobuf` has codecs for k8s-openapi v1_33, v1_36 and v1_37 only; v1_35 is not covered");
}

#[cfg(test)]
mod tests;
