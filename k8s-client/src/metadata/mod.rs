//! Metadata-only access to any resource (`PartialObjectMetadata`).
