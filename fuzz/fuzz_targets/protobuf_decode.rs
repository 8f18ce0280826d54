//! Feeds arbitrary bytes to every protobuf decoder entry point: none may panic.
#![no_main]

use k8s_client::protobuf::{envelope, ProtobufMessage};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Pod::decode_fields(data);
    let _ = Deployment::decode_fields(data);
    let _ = CustomResourceDefinition::decode_fields(data);
    let _ = envelope::decode_object::<ConfigMap>(data, "ConfigMap");
    let _ = envelope::decode_list::<Pod>(data, "PodList");
    let _ = envelope::decode_watch_frame::<Pod>(data, "Pod");
    let _ = envelope::decode_status(data);
    let mut frames = envelope::FrameReader::default();
    frames.push(data);
    while let Ok(Some(frame)) = frames.next_frame() {
        let _ = envelope::decode_watch_frame::<Pod>(&frame, "Pod");
    }
});
