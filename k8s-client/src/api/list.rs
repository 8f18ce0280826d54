//! [`ObjectList`] (one page of a list) and [`Deleted`] (what a delete answers).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Status;

/// One page of a list: the objects and the list's metadata (`continue`, `resourceVersion`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(bound(deserialize = "K: DeserializeOwned", serialize = "K: Serialize"))]
pub struct ObjectList<K> {
    /// `continue` token and resourceVersion of the list.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<K>,
}

fn null_as_empty<'de, D, K>(d: D) -> std::result::Result<Vec<K>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: DeserializeOwned,
{
    Ok(Option::<Vec<K>>::deserialize(d)?.unwrap_or_default())
}

impl<K> Default for ObjectList<K> {
    fn default() -> Self {
        ObjectList {
            metadata: ListMeta::default(),
            items: Vec::new(),
        }
    }
}

impl<K> ObjectList<K> {
    /// The token that fetches the next page, when there is one.
    pub fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref().filter(|t| !t.is_empty())
    }

    /// The resourceVersion the list was read at (start a watch from here).
    pub fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }

    /// Iterates over the objects.
    pub fn iter(&self) -> std::slice::Iter<'_, K> {
        self.items.iter()
    }
}

impl<K> IntoIterator for ObjectList<K> {
    type Item = K;
    type IntoIter = std::vec::IntoIter<K>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, K> IntoIterator for &'a ObjectList<K> {
    type Item = &'a K;
    type IntoIter = std::slice::Iter<'a, K>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// The answer to a delete: the object (still there while finalizers run, or as it was
/// deleted), or a `Status` when the server answered with one.
// The lint sees `T` as zero-sized; real objects are as large as `Status` or larger.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Deleted<T> {
    /// The object (or, for `delete_collection`, the list of deleted objects).
    Object(T),
    /// The server's `Status` (`"status": "Success"`).
    Status(Status),
}

impl<T> Deleted<T> {
    /// The object, when the server answered with one.
    pub fn object(self) -> Option<T> {
        match self {
            Deleted::Object(o) => Some(o),
            Deleted::Status(_) => None,
        }
    }

    /// The status, when the server answered with one.
    pub fn status(self) -> Option<Status> {
        match self {
            Deleted::Object(_) => None,
            Deleted::Status(s) => Some(s),
        }
    }
}
