//! [`Store`]: the thread-safe local copy of a set of objects, keyed `namespace/name`, with
//! indexes; [`StoreWriter`] is the side that changes it (the reflector's).
//!
//! ```
//! use std::sync::Arc;
//! use k8s_client::api::Object;
//! use k8s_client::cache::StoreWriter;
//! use k8s_openapi::api::core::v1::Pod;
//!
//! let writer = StoreWriter::<Pod>::new();
//! let store = writer.store();
//! store
//!     .add_indexer("node", Arc::new(|p: &Pod| {
//!         p.spec.as_ref().and_then(|s| s.node_name.clone()).into_iter().collect()
//!     }))
//!     .unwrap();
//! let mut pod = Pod::default();
//! pod.meta_mut().name = Some("web-1".into());
//! pod.meta_mut().namespace = Some("default".into());
//! pod.spec = Some(Default::default());
//! pod.spec.as_mut().unwrap().node_name = Some("node-a".into());
//! writer.apply(pod);
//! assert_eq!(store.index_keys("node", "node-a").unwrap(), ["default/web-1"]);
//! assert_eq!(store.by_index("namespace", "default").unwrap().len(), 1);
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::Object;

use super::error::CacheError;
use super::packed::Packing;
use super::panics;

/// The name of the index every store has: objects by namespace.
pub const NAMESPACE_INDEX: &str = "namespace";

/// An index function: the index values of an object (none, one or several).
///
/// One that panics on an object is caught: the panic is logged at error level and counted
/// ([`Store::index_panics`]), the object is left out of that index, and the store goes on.
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// What one change to a store did.
#[derive(Debug)]
pub enum Change<K> {
    /// A new object.
    Added(Arc<K>),
    /// An object was replaced by a newer state (or by the same state, on a relist).
    Updated {
        /// The state the store had.
        old: Arc<K>,
        /// The state it has now.
        new: Arc<K>,
    },
    /// An object was deleted; this is its final state as the server reported it.
    Deleted(Arc<K>),
    /// A relist no longer had the object: it was deleted while the watch was down, and its
    /// final state is unknown (`last` is the last state the store had).
    Vanished {
        /// The object's key.
        key: String,
        /// The last state the store had.
        last: Arc<K>,
    },
}

/// A packed object's labels, kept beside its bytes so that label selectors pick objects
/// without decoding them (`None`: no labels).
type Labels = Option<Box<BTreeMap<String, String>>>;

/// How the store holds one object: shared as decoded, or packed (a compact store).
enum Slot<K> {
    Shared(Arc<K>),
    Packed(Arc<[u8]>, Labels),
}

/// The labels of an object without any.
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// `labels` as kept beside a packed object.
fn kept_labels(labels: &Option<BTreeMap<String, String>>) -> Labels {
    labels
        .as_ref()
        .filter(|l| !l.is_empty())
        .map(|l| Box::new(l.clone()))
}

impl<K: Object> Slot<K> {
    /// The object's labels, without decoding it.
    fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            Slot::Shared(o) => o.meta().labels.as_ref(),
            Slot::Packed(_, labels) => labels.as_deref(),
        }
        .unwrap_or(&NO_LABELS)
    }
}

impl<K> Clone for Slot<K> {
    fn clone(&self) -> Self {
        match self {
            Slot::Shared(o) => Slot::Shared(o.clone()),
            Slot::Packed(b, labels) => Slot::Packed(b.clone(), labels.clone()),
        }
    }
}

/// Decodes a packed object. One that no longer decodes (which would be a bug: the store
/// encoded it) is logged and treated as absent.
fn unpack<K>(packing: Option<&Packing<K>>, bytes: &[u8], key: &str) -> Option<K> {
    match packing?.unpack(bytes) {
        Ok(obj) => Some(obj),
        Err(error) => {
            tracing::error!(key, %error, "a compact store could not decode its own copy");
            None
        }
    }
}

impl<K> Slot<K> {
    /// The object, decoded from its packed form if need be.
    fn object(&self, packing: Option<&Packing<K>>, key: &str) -> Option<Arc<K>> {
        match self {
            Slot::Shared(o) => Some(o.clone()),
            Slot::Packed(bytes, _) => unpack(packing, bytes, key).map(Arc::new),
        }
    }
}

/// What a reflector hands a store: an object as decoded, or one a compact store packed as it
/// arrived ([`Store::hold`]), so that a large list is never held decoded.
pub(crate) enum Held<K> {
    Decoded(K),
    Packed(Box<PackedObject>),
}

/// A packed object with what a store needs from it without decoding it.
pub(crate) struct PackedObject {
    /// Name, namespace, resourceVersion and labels only (keys, resourceVersions, label
    /// selectors).
    meta: ObjectMeta,
    bytes: Arc<[u8]>,
    /// Index name -> values, from the indexers the store had when it was packed.
    index: Vec<(String, Vec<String>)>,
}

impl<K: Object> Object for Held<K> {
    fn meta(&self) -> &ObjectMeta {
        match self {
            Held::Decoded(obj) => obj.meta(),
            Held::Packed(p) => &p.meta,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Held::Decoded(obj) => obj.meta_mut(),
            Held::Packed(p) => &mut p.meta,
        }
    }
}

struct Inner<K> {
    items: HashMap<Arc<str>, Slot<K>>,
    indexers: HashMap<String, IndexFn<K>>,
    /// index name -> index value -> keys.
    indices: HashMap<String, HashMap<String, HashSet<Arc<str>>>>,
    /// Index functions that panicked (each time).
    index_panics: AtomicU64,
}

/// The values of `obj` under index function `f` (named `name`); `None` when `f` panicked
/// (logged and counted in `panics`).
fn index_values<K: Object>(
    name: &str,
    f: &IndexFn<K>,
    obj: &K,
    panics: &AtomicU64,
) -> Option<Vec<String>> {
    match panics::call(|| f(obj)) {
        Ok(values) => Some(values),
        Err(panic) => {
            panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                index = name,
                key = %obj.key(),
                %panic,
                "an index function panicked; the object is left out of that index"
            );
            None
        }
    }
}

impl<K: Object> Inner<K> {
    fn index_add(&mut self, key: &Arc<str>, obj: &K) {
        let values = self.index_values_of(obj);
        self.index_insert(key, values);
    }

    /// Puts `key` in the indexes under the given values (index name -> values).
    fn index_insert(&mut self, key: &Arc<str>, values: Vec<(String, Vec<String>)>) {
        for (name, values) in values {
            let index = self.indices.entry(name).or_default();
            for value in values {
                index.entry(value).or_default().insert(key.clone());
            }
        }
    }

    /// Index values of `obj` under every indexer.
    fn index_values_of(&self, obj: &K) -> Vec<(String, Vec<String>)> {
        self.indexers
            .iter()
            .map(|(name, f)| {
                let values = index_values(name, f, obj, &self.index_panics);
                (name.clone(), values.unwrap_or_default())
            })
            .collect()
    }

    /// Takes `key` out of the indexes `obj` put it in; without `obj` (a packed copy that did
    /// not decode), or when an index function panics on it, out of every value of the index.
    fn index_remove(&mut self, key: &str, obj: Option<&K>) {
        for (name, f) in &self.indexers {
            let Some(index) = self.indices.get_mut(name) else {
                continue;
            };
            let values = obj
                .and_then(|obj| index_values(name, f, obj, &self.index_panics))
                .unwrap_or_else(|| index.keys().cloned().collect());
            for value in values {
                if let Some(keys) = index.get_mut(&value) {
                    keys.remove(key);
                    if keys.is_empty() {
                        index.remove(&value);
                    }
                }
            }
        }
    }

    /// How `obj` is kept: packed in a compact store (shared when it cannot be packed).
    fn slot(packing: Option<&Packing<K>>, key: &str, obj: &Arc<K>) -> Slot<K> {
        match packing.map(|p| p.pack(obj)) {
            None => Slot::Shared(obj.clone()),
            Some(Ok(bytes)) => Slot::Packed(bytes.into(), kept_labels(&obj.meta().labels)),
            Some(Err(error)) => {
                tracing::warn!(key, %error, "kept an object unpacked in a compact store");
                Slot::Shared(obj.clone())
            }
        }
    }

    /// Takes the object under `key`, if any, out of the indexes before it is replaced;
    /// returns the key (shared) and the previous object (`Some(None)` for a packed copy that
    /// did not decode).
    fn displace(
        &mut self,
        packing: Option<&Packing<K>>,
        key: &str,
    ) -> (Arc<str>, Option<Option<Arc<K>>>) {
        let Some((key, old)) = self.items.get_key_value(key) else {
            return (Arc::from(key), None);
        };
        let (key, old) = (key.clone(), old.object(packing, key));
        self.index_remove(&key, old.as_deref());
        (key, Some(old))
    }

    /// Inserts or replaces; returns the previous object (an old copy that did not decode is
    /// reported as absent: the object as added).
    fn upsert(&mut self, packing: Option<&Packing<K>>, key: &str, obj: Arc<K>) -> Option<Arc<K>> {
        let (key, old) = self.displace(packing, key);
        self.index_add(&key, &obj);
        let slot = Self::slot(packing, &key, &obj);
        self.items.insert(key, slot);
        old.flatten()
    }

    /// [`upsert`](Self::upsert) of an object packed beforehand.
    fn upsert_packed(
        &mut self,
        packing: Option<&Packing<K>>,
        key: &str,
        packed: PackedObject,
    ) -> Option<Arc<K>> {
        let (key, old) = self.displace(packing, key);
        let current = packed.index.len() == self.indexers.len()
            && packed
                .index
                .iter()
                .all(|(name, _)| self.indexers.contains_key(name));
        if current {
            self.index_insert(&key, packed.index);
        } else if let Some(obj) = unpack(packing, &packed.bytes, &key) {
            // An indexer was added after the object was packed.
            self.index_add(&key, &obj);
        }
        let labels = kept_labels(&packed.meta.labels);
        self.items.insert(key, Slot::Packed(packed.bytes, labels));
        old.flatten()
    }

    fn remove(&mut self, packing: Option<&Packing<K>>, key: &str) -> Option<Option<Arc<K>>> {
        let old = self.items.remove(key)?;
        let old = old.object(packing, key);
        self.index_remove(key, old.as_deref());
        Some(old)
    }
}

/// A thread-safe store of objects keyed `namespace/name` (`name` for cluster-scoped
/// objects), with indexes. Cheap to clone; clones share the data. Reads hand out `Arc<K>`:
/// nothing is copied.
///
/// A compact store (`StoreWriter::compact`, feature `compact`) is the exception: it keeps
/// each object packed (JSON compressed with LZ4, about a twentieth of the decoded size for
/// Pods with managedFields) and decodes it when read. The objects read last by
/// [`get`](Store::get), [`get_by_key`](Store::get_by_key) and index lookups (at most
/// [`DEFAULT_RECENT_OBJECTS`], or `InformerOptions::recent_objects`) stay decoded, so reading
/// one of them again costs a hash lookup and returns the same `Arc<K>`; any other read
/// costs a decode (tens of microseconds for a Pod) and returns a new `Arc<K>`. It suits large
/// caches most of which are read rarely.
///
/// Every store has the [`NAMESPACE_INDEX`]; more can be added with
/// [`add_indexer`](Store::add_indexer). See [`StoreWriter`] for an example.
pub struct Store<K> {
    inner: Arc<RwLock<Inner<K>>>,
    packing: Option<Packing<K>>,
    /// A compact store's recently read objects, kept decoded.
    recent: Option<Arc<Mutex<Recent<K>>>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store {
            inner: self.inner.clone(),
            packing: self.packing,
            recent: self.recent.clone(),
        }
    }
}

/// How many recently read objects a compact store keeps decoded unless told otherwise
/// ([`InformerOptions::recent_objects`](super::InformerOptions::recent_objects)).
pub const DEFAULT_RECENT_OBJECTS: usize = 256;

/// The objects a compact store decoded last for [`Store::get_by_key`] and index lookups, at
/// most `capacity`, the oldest decoded going first. An entry is used only while the store
/// still holds the very bytes it was decoded from (the same `Arc`), so a write never has to
/// find and drop it: a replaced object's entry simply stops matching and ages out.
struct Recent<K> {
    capacity: usize,
    /// Key -> the bytes an object was decoded from, and the object.
    objects: HashMap<Arc<str>, Decoded<K>>,
    /// Keys in the order they were put in.
    order: VecDeque<Arc<str>>,
}

/// A packed object's bytes and the object decoded from them.
type Decoded<K> = (Arc<[u8]>, Arc<K>);

impl<K> Recent<K> {
    fn get(&self, key: &str, bytes: &Arc<[u8]>) -> Option<Arc<K>> {
        let (from, obj) = self.objects.get(key)?;
        Arc::ptr_eq(from, bytes).then(|| obj.clone())
    }

    fn put(&mut self, key: Arc<str>, bytes: Arc<[u8]>, obj: Arc<K>) {
        if self.capacity == 0 {
            return;
        }
        if self.objects.insert(key.clone(), (bytes, obj)).is_none() {
            self.order.push_back(key);
        }
        while self.objects.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => drop(self.objects.remove(&oldest)),
                None => break,
            }
        }
    }
}

fn lock_recent<K>(m: &Mutex<Recent<K>>) -> std::sync::MutexGuard<'_, Recent<K>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<K: Object> fmt::Debug for Store<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("len", &self.len())
            .field("compact", &self.is_compact())
            .finish()
    }
}

fn namespace_index<K: Object>() -> IndexFn<K> {
    Arc::new(|obj: &K| match obj.namespace() {
        Some(ns) if !ns.is_empty() => vec![ns.to_string()],
        _ => Vec::new(),
    })
}

impl<K: Object> Store<K> {
    fn read(&self) -> RwLockReadGuard<'_, Inner<K>> {
        // Index functions run caught (see `index_values`), so nothing of ours panics while
        // the lock is held; should something still, keep serving.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner<K>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Decodes slots taken out under the lock (so a compact store decodes without holding
    /// it).
    ///
    /// Objects of a compact store found among its recently read ones are taken from there;
    /// the others join them only when they are no more than it keeps (a lookup of a few
    /// objects, not a list of the whole store that would push out everything else).
    fn objects(&self, slots: Vec<(Arc<str>, Slot<K>)>) -> Vec<Arc<K>> {
        let keep = self
            .recent
            .as_ref()
            .is_some_and(|r| slots.len() <= lock_recent(r).capacity);
        slots
            .into_iter()
            .filter_map(|(key, slot)| self.read_slot(key, slot, keep))
            .collect()
    }

    /// The object in `slot` (under `key`): a compact store's from its recently read objects
    /// when they have it, else decoded (and kept there if `keep`).
    fn read_slot(&self, key: Arc<str>, slot: Slot<K>, keep: bool) -> Option<Arc<K>> {
        let (Slot::Packed(bytes, _), Some(recent)) = (&slot, &self.recent) else {
            return slot.object(self.packing.as_ref(), &key);
        };
        if let Some(obj) = lock_recent(recent).get(&key, bytes) {
            return Some(obj);
        }
        let obj = slot.object(self.packing.as_ref(), &key)?;
        if keep {
            lock_recent(recent).put(key, bytes.clone(), obj.clone());
        }
        Some(obj)
    }

    /// How many objects a compact store keeps decoded now (at most its `recent_objects`).
    #[cfg(all(test, feature = "compact"))]
    fn recent_len(&self) -> usize {
        self.recent
            .as_ref()
            .map_or(0, |r| lock_recent(r).objects.len())
    }

    /// What a reflector keeps of an arriving object: in a compact store, an object collected
    /// for a whole-list replace is packed at once (with its index values), so the list is
    /// never held decoded; anything else stays as decoded.
    pub(crate) fn hold(&self, obj: K, collecting: bool) -> Held<K> {
        let Some(packing) = self.packing.filter(|_| collecting) else {
            return Held::Decoded(obj);
        };
        let bytes = match packing.pack(&obj) {
            Ok(bytes) => bytes,
            Err(_) => return Held::Decoded(obj), // the store keeps it unpacked, and says so
        };
        let index = self.read().index_values_of(&obj);
        let meta = obj.meta();
        Held::Packed(Box::new(PackedObject {
            meta: ObjectMeta {
                name: meta.name.clone(),
                namespace: meta.namespace.clone(),
                resource_version: meta.resource_version.clone(),
                labels: meta.labels.clone(),
                ..ObjectMeta::default()
            },
            bytes: bytes.into(),
            index,
        }))
    }

    /// How many times an index function panicked (see [`IndexFn`]).
    pub fn index_panics(&self) -> u64 {
        self.read().index_panics.load(Ordering::Relaxed)
    }

    /// Whether this store keeps objects packed (`StoreWriter::compact`, feature `compact`).
    pub fn is_compact(&self) -> bool {
        self.packing.is_some()
    }

    /// The object with the same key as `obj`.
    pub fn get(&self, obj: &K) -> Option<Arc<K>> {
        self.get_by_key(&obj.key())
    }

    /// The object with key `key` (`namespace/name`, or `name`).
    pub fn get_by_key(&self, key: &str) -> Option<Arc<K>> {
        let (key, slot) = {
            let inner = self.read();
            let (key, slot) = inner.items.get_key_value(key)?;
            (key.clone(), slot.clone())
        };
        self.read_slot(key, slot, true)
    }

    /// Every object, in no particular order.
    pub fn list(&self) -> Vec<Arc<K>> {
        let slots = {
            let inner = self.read();
            inner
                .items
                .iter()
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect()
        };
        self.objects(slots)
    }

    /// The objects whose labels `selects` accepts, in no particular order; a compact store
    /// decodes only those (labels are kept beside each packed object).
    pub(crate) fn list_labelled(
        &self,
        selects: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Vec<Arc<K>> {
        let slots = {
            let inner = self.read();
            inner
                .items
                .iter()
                .filter(|(_, s)| selects(s.labels()))
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect()
        };
        self.objects(slots)
    }

    /// [`by_index`](Self::by_index) of the objects whose labels `selects` accepts (a compact
    /// store decodes only those).
    pub(crate) fn by_index_labelled(
        &self,
        index: &str,
        value: &str,
        selects: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Result<Vec<Arc<K>>, CacheError> {
        let slots = {
            let inner = self.read();
            let keys = Self::keys_of(&inner, index, value)?;
            keys.into_iter()
                .flatten()
                .filter_map(|k| inner.items.get_key_value(k))
                .filter(|(_, s)| selects(s.labels()))
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect()
        };
        Ok(self.objects(slots))
    }

    /// Every key, in no particular order.
    pub fn list_keys(&self) -> Vec<String> {
        self.read().items.keys().map(|k| k.to_string()).collect()
    }

    /// How many objects the store holds.
    pub fn len(&self) -> usize {
        self.read().items.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects whose index `index` has the value `value`.
    pub fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<K>>, CacheError> {
        let slots = {
            let inner = self.read();
            let keys = Self::keys_of(&inner, index, value)?;
            keys.into_iter()
                .flatten()
                .filter_map(|k| inner.items.get_key_value(k))
                .map(|(k, s)| (k.clone(), s.clone()))
                .collect()
        };
        Ok(self.objects(slots))
    }

    /// The keys of the objects whose index `index` has the value `value`.
    pub fn index_keys(&self, index: &str, value: &str) -> Result<Vec<String>, CacheError> {
        let inner = self.read();
        let keys = Self::keys_of(&inner, index, value)?;
        Ok(keys.into_iter().flatten().map(|k| k.to_string()).collect())
    }

    /// The values index `index` has (for example every node name pods are on).
    pub fn index_values(&self, index: &str) -> Result<Vec<String>, CacheError> {
        let inner = self.read();
        if !inner.indexers.contains_key(index) {
            return Err(CacheError::UnknownIndex { name: index.into() });
        }
        Ok(inner
            .indices
            .get(index)
            .map(|values| values.keys().cloned().collect())
            .unwrap_or_default())
    }

    fn keys_of<'a>(
        inner: &'a Inner<K>,
        index: &str,
        value: &str,
    ) -> Result<Option<&'a HashSet<Arc<str>>>, CacheError> {
        if !inner.indexers.contains_key(index) {
            return Err(CacheError::UnknownIndex { name: index.into() });
        }
        Ok(inner
            .indices
            .get(index)
            .and_then(|values| values.get(value)))
    }

    /// Adds an index, computed at once for the objects already stored and kept up to date
    /// afterwards (a compact store decodes every object once for this). Fails when an index
    /// of that name exists.
    pub fn add_indexer(&self, name: &str, f: IndexFn<K>) -> Result<(), CacheError> {
        let mut inner = self.write();
        if inner.indexers.contains_key(name) {
            return Err(CacheError::IndexExists { name: name.into() });
        }
        let mut index: HashMap<String, HashSet<Arc<str>>> = HashMap::new();
        for (key, slot) in &inner.items {
            let Some(obj) = slot.object(self.packing.as_ref(), key) else {
                continue;
            };
            let values = index_values(name, &f, &obj, &inner.index_panics);
            for value in values.into_iter().flatten() {
                index.entry(value).or_default().insert(key.clone());
            }
        }
        inner.indices.insert(name.to_string(), index);
        inner.indexers.insert(name.to_string(), f);
        Ok(())
    }
}

/// The writing side of a [`Store`]: what a reflector (or a test) uses to change it.
///
/// ```
/// use k8s_client::cache::{Change, StoreWriter};
/// use k8s_openapi::api::core::v1::ConfigMap;
///
/// let writer = StoreWriter::<ConfigMap>::new();
/// let mut cm = ConfigMap::default();
/// cm.metadata.name = Some("a".into());
/// cm.metadata.namespace = Some("ns".into());
/// assert!(matches!(writer.apply(cm), Change::Added(_)));
/// // A relist without it: reported as vanished (deleted while unobserved).
/// let changes = writer.replace(Vec::new());
/// assert!(matches!(&changes[..], [Change::Vanished { key, .. }] if key == "ns/a"));
/// assert!(writer.store().is_empty());
/// ```
pub struct StoreWriter<K> {
    store: Store<K>,
}

impl<K> fmt::Debug for StoreWriter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreWriter").finish_non_exhaustive()
    }
}

impl<K: Object> Default for StoreWriter<K> {
    fn default() -> Self {
        StoreWriter::new()
    }
}

impl<K: Object> StoreWriter<K> {
    /// An empty store (with the namespace index).
    pub fn new() -> Self {
        Self::with_packing(None, 0)
    }

    /// An empty compact store: objects are kept packed (JSON compressed with LZ4) and
    /// decoded on each read. See [`Store`] for what that trades.
    ///
    /// ```
    /// use k8s_client::cache::StoreWriter;
    /// use k8s_openapi::api::core::v1::ConfigMap;
    ///
    /// let writer = StoreWriter::<ConfigMap>::compact();
    /// let mut cm = ConfigMap::default();
    /// cm.metadata.name = Some("settings".into());
    /// cm.metadata.namespace = Some("prod".into());
    /// cm.data = Some([("mode".to_string(), "fast".to_string())].into());
    /// writer.apply(cm.clone());
    /// let store = writer.store();
    /// assert!(store.is_compact());
    /// assert_eq!(*store.get_by_key("prod/settings").unwrap(), cm);
    /// ```
    #[cfg(feature = "compact")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compact")))]
    pub fn compact() -> Self
    where
        K: serde::Serialize + serde::de::DeserializeOwned,
    {
        Self::with_packing(Some(Packing::json()), DEFAULT_RECENT_OBJECTS)
    }

    pub(crate) fn with_packing(packing: Option<Packing<K>>, recent_objects: usize) -> Self {
        let mut indexers = HashMap::new();
        indexers.insert(NAMESPACE_INDEX.to_string(), namespace_index::<K>());
        let inner = Inner {
            items: HashMap::new(),
            indexers,
            indices: HashMap::new(),
            index_panics: AtomicU64::new(0),
        };
        StoreWriter {
            store: Store {
                inner: Arc::new(RwLock::new(inner)),
                recent: packing.map(|_| {
                    Arc::new(Mutex::new(Recent {
                        capacity: recent_objects,
                        objects: HashMap::new(),
                        order: VecDeque::new(),
                    }))
                }),
                packing,
            },
        }
    }

    /// The reading handle of this store.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Adds or updates `obj`.
    pub fn apply(&self, obj: K) -> Change<K> {
        self.apply_arc(Arc::new(obj))
    }

    /// Adds or updates `obj` (already shared).
    pub fn apply_arc(&self, obj: Arc<K>) -> Change<K> {
        let key = obj.key();
        let packing = self.store.packing;
        match self
            .store
            .write()
            .upsert(packing.as_ref(), &key, obj.clone())
        {
            Some(old) => Change::Updated { old, new: obj },
            None => Change::Added(obj),
        }
    }

    /// The decoded form of a held object (decoding a packed one).
    fn decoded(&self, held: Held<K>) -> Option<K> {
        match held {
            Held::Decoded(obj) => Some(obj),
            Held::Packed(p) => {
                let name = p.meta.name.as_deref().unwrap_or_default();
                unpack(self.store.packing.as_ref(), &p.bytes, name)
            }
        }
    }

    /// [`apply`](Self::apply) of a held object.
    pub(crate) fn apply_held(&self, held: Held<K>) -> Option<Change<K>> {
        self.decoded(held).map(|obj| self.apply(obj))
    }

    /// [`delete`](Self::delete) of a held object.
    pub(crate) fn delete_held(&self, held: Held<K>) -> Option<Change<K>> {
        self.decoded(held).and_then(|obj| self.delete(obj))
    }

    /// [`replace`](Self::replace) with held objects. Without `want_changes` (nobody to tell)
    /// packed objects are stored without being decoded, and no changes are returned.
    pub(crate) fn replace_held(&self, items: Vec<Held<K>>, want_changes: bool) -> Vec<Change<K>> {
        let packing = self.store.packing;
        let packing = packing.as_ref();
        let mut inner = self.store.write();
        let mut changes = Vec::with_capacity(if want_changes { items.len() } else { 0 });
        let mut seen: HashSet<Arc<str>> = HashSet::with_capacity(items.len());
        for held in items {
            let key = held.key();
            match held {
                Held::Decoded(obj) => {
                    let obj = Arc::new(obj);
                    let old = inner.upsert(packing, &key, obj.clone());
                    if want_changes {
                        changes.push(match old {
                            Some(old) => Change::Updated { old, new: obj },
                            None => Change::Added(obj),
                        });
                    }
                }
                Held::Packed(packed) => {
                    let bytes = packed.bytes.clone();
                    let old = inner.upsert_packed(packing, &key, *packed);
                    // Decoded again only for handlers.
                    if let Some(new) = unpack(packing.filter(|_| want_changes), &bytes, &key) {
                        let new = Arc::new(new);
                        changes.push(match old {
                            Some(old) => Change::Updated { old, new },
                            None => Change::Added(new),
                        });
                    }
                }
            }
            if let Some((k, _)) = inner.items.get_key_value(key.as_str()) {
                seen.insert(k.clone());
            }
        }
        let gone: Vec<Arc<str>> = inner
            .items
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(Some(last)) = inner.remove(packing, &key) {
                if want_changes {
                    changes.push(Change::Vanished {
                        key: key.to_string(),
                        last,
                    });
                }
            }
        }
        changes
    }

    /// Deletes the object with `obj`'s key; `obj` is its final state. Returns the change
    /// (`Change::Deleted(obj)`), or `None` when the store did not have it.
    pub fn delete(&self, obj: K) -> Option<Change<K>> {
        let key = obj.key();
        let packing = self.store.packing;
        self.store.write().remove(packing.as_ref(), &key)?;
        Some(Change::Deleted(Arc::new(obj)))
    }

    /// Replaces the whole content with `items` (a relist), and returns what changed: every
    /// listed object as added or updated, and every stored object the list no longer has as
    /// [`Change::Vanished`].
    pub fn replace(&self, items: Vec<K>) -> Vec<Change<K>> {
        self.replace_held(items.into_iter().map(Held::Decoded).collect(), true)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec};

    use super::*;

    fn pod(ns: &str, name: &str, node: Option<&str>, rv: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some(ns.into());
        p.metadata.resource_version = Some(rv.into());
        p.spec = Some(PodSpec {
            node_name: node.map(String::from),
            ..PodSpec::default()
        });
        p
    }

    fn by_node() -> IndexFn<Pod> {
        Arc::new(|p: &Pod| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .into_iter()
                .collect()
        })
    }

    /// The changes as sorted lines ("updated ns/name oldrv->newrv").
    fn described(changes: &[Change<Pod>]) -> Vec<String> {
        let rv = |o: &Pod| o.resource_version().unwrap_or("").to_string();
        sorted(
            changes
                .iter()
                .map(|c| match c {
                    Change::Added(o) => format!("added {}", o.key()),
                    Change::Updated { old, new } => {
                        format!("updated {} {}->{}", new.key(), rv(old), rv(new))
                    }
                    Change::Vanished { key, last } => format!("vanished {key} {}", rv(last)),
                    Change::Deleted(o) => format!("deleted {}", o.key()),
                })
                .collect(),
        )
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn add_update_delete_keep_indexes_current() {
        add_update_delete_keep_indexes_current_in(StoreWriter::new());
        #[cfg(feature = "compact")]
        add_update_delete_keep_indexes_current_in(StoreWriter::compact());
    }

    fn add_update_delete_keep_indexes_current_in(w: StoreWriter<Pod>) {
        let s = w.store();
        s.add_indexer("node", by_node()).unwrap();
        assert!(matches!(
            w.apply(pod("a", "p1", Some("n1"), "1")),
            Change::Added(_)
        ));
        w.apply(pod("a", "p2", Some("n1"), "2"));
        w.apply(pod("b", "p1", None, "3"));
        assert_eq!(s.len(), 3);
        assert_eq!(
            sorted(s.index_keys("node", "n1").unwrap()),
            ["a/p1", "a/p2"]
        );
        assert_eq!(
            sorted(s.index_keys(NAMESPACE_INDEX, "a").unwrap()),
            ["a/p1", "a/p2"]
        );

        // Moving a pod to another node moves it in the index.
        match w.apply(pod("a", "p1", Some("n2"), "4")) {
            Change::Updated { old, new } => {
                assert_eq!(old.resource_version(), Some("1"));
                assert_eq!(new.resource_version(), Some("4"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.index_keys("node", "n1").unwrap(), ["a/p2"]);
        assert_eq!(s.index_keys("node", "n2").unwrap(), ["a/p1"]);
        assert_eq!(sorted(s.index_values("node").unwrap()), ["n1", "n2"]);

        assert!(matches!(
            w.delete(pod("a", "p2", Some("n1"), "5")),
            Some(Change::Deleted(_))
        ));
        assert!(w.delete(pod("a", "p2", Some("n1"), "5")).is_none());
        assert!(s.index_keys("node", "n1").unwrap().is_empty());
        assert_eq!(s.index_values("node").unwrap(), ["n2"]);
        assert_eq!(s.get_by_key("a/p1").unwrap().resource_version(), Some("4"));
        assert!(s.get(&pod("a", "p2", None, "")).is_none());
        assert_eq!(sorted(s.list_keys()), ["a/p1", "b/p1"]);
    }

    #[test]
    fn reads_share_the_stored_object() {
        let w = StoreWriter::new();
        w.apply(pod("a", "p", None, "1"));
        let one = w.store().get_by_key("a/p").unwrap();
        let two = w.store().list().pop().unwrap();
        assert!(Arc::ptr_eq(&one, &two));
    }

    #[cfg(feature = "compact")]
    #[test]
    fn compact_reads_decode_a_fresh_equal_copy() {
        // Without recently read objects kept decoded (see the next test).
        let w = StoreWriter::with_packing(Some(Packing::json()), 0);
        let p = pod("a", "p", Some("n1"), "1");
        assert!(matches!(w.apply(p.clone()), Change::Added(_)));
        let one = w.store().get_by_key("a/p").unwrap();
        let two = w.store().list().pop().unwrap();
        assert_eq!(*one, p);
        assert_eq!(*two, p);
        assert!(!Arc::ptr_eq(&one, &two));
        // The old side of an update and the last state of a vanished object decode too.
        match w.apply(pod("a", "p", Some("n1"), "2")) {
            Change::Updated { old, new } => {
                assert_eq!(*old, p);
                assert_eq!(new.resource_version(), Some("2"));
            }
            other => panic!("{other:?}"),
        }
        match &w.replace(Vec::new())[..] {
            [Change::Vanished { key, last }] => {
                assert_eq!(key, "a/p");
                assert_eq!(last.resource_version(), Some("2"));
            }
            other => panic!("{other:?}"),
        }
        assert!(w.store().is_compact());
        assert!(!StoreWriter::<Pod>::new().store().is_compact());
    }

    #[cfg(feature = "compact")]
    #[test]
    fn compact_stores_keep_recently_read_objects_decoded() {
        let w = StoreWriter::<Pod>::with_packing(Some(Packing::json()), 4);
        let s = w.store();
        for i in 0..10 {
            w.apply(pod("a", &format!("p{i}"), Some("n1"), "1"));
        }
        // Writes decode nothing into it; a read does, and a second read shares the object.
        assert_eq!(s.recent_len(), 0);
        let one = s.get_by_key("a/p0").unwrap();
        let two = s.get_by_key("a/p0").unwrap();
        assert!(Arc::ptr_eq(&one, &two));
        // A new state is read as such, never the old one kept decoded.
        w.apply(pod("a", "p0", Some("n2"), "2"));
        let three = s.get_by_key("a/p0").unwrap();
        assert_eq!(three.resource_version(), Some("2"));
        assert!(Arc::ptr_eq(&three, &s.get_by_key("a/p0").unwrap()));
        // At most 4 are kept, the oldest read going first.
        for i in 1..10 {
            s.get_by_key(&format!("a/p{i}")).unwrap();
        }
        assert_eq!(s.recent_len(), 4);
        let p9 = s.get_by_key("a/p9").unwrap();
        assert!(Arc::ptr_eq(&p9, &s.get_by_key("a/p9").unwrap()));
        assert!(!Arc::ptr_eq(&three, &s.get_by_key("a/p0").unwrap()));
        // A whole list uses kept objects but does not push them out.
        let before = s.get_by_key("a/p8").unwrap();
        let all = s.list();
        assert_eq!(all.len(), 10);
        assert!(all.iter().any(|o| Arc::ptr_eq(o, &before)));
        assert!(Arc::ptr_eq(&before, &s.get_by_key("a/p8").unwrap()));
        // A deleted object is not read from it.
        w.delete(pod("a", "p8", None, "3"));
        assert!(s.get_by_key("a/p8").is_none());
        // None kept: every read decodes.
        let none = StoreWriter::<Pod>::with_packing(Some(Packing::json()), 0);
        none.apply(pod("a", "p", None, "1"));
        let (x, y) = (
            none.store().get_by_key("a/p"),
            none.store().get_by_key("a/p"),
        );
        assert!(!Arc::ptr_eq(&x.unwrap(), &y.unwrap()));
        assert_eq!(none.store().recent_len(), 0);
    }

    #[cfg(feature = "compact")]
    #[test]
    fn label_selectors_decode_only_the_objects_they_match() {
        use std::sync::atomic::AtomicUsize;

        use crate::cache::{Lister, Selector};

        static DECODES: AtomicUsize = AtomicUsize::new(0);
        fn counted(bytes: &[u8]) -> Result<Pod, String> {
            DECODES.fetch_add(1, Ordering::SeqCst);
            Packing::<Pod>::json().unpack(bytes)
        }
        let packing = Packing::<Pod>::json().with_unpack(counted);
        let w = StoreWriter::with_packing(Some(packing), 0);
        let s = w.store();
        let labelled = |ns: &str, name: &str, app: &str| {
            let mut p = pod(ns, name, None, "1");
            p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
            p
        };
        // Some applied one by one, the rest packed on arrival and replaced as a list.
        for i in 0..50 {
            w.apply(labelled("a", &format!("db{i}"), "db"));
        }
        let mut held: Vec<Held<Pod>> = (0..50)
            .map(|i| s.hold(labelled("b", &format!("db{i}"), "db"), true))
            .collect();
        held.push(s.hold(labelled("b", "web", "web"), true));
        held.push(s.hold(pod("b", "plain", None, "1"), true));
        for i in 0..50 {
            held.push(s.hold(labelled("a", &format!("db{i}"), "db"), true));
        }
        held.push(s.hold(labelled("a", "web", "web"), true));
        w.replace_held(held, false);
        assert_eq!(s.len(), 103);

        let lister = Lister::new(s.clone());
        let before = DECODES.load(Ordering::SeqCst);
        let web = lister.list_selected("app=web").unwrap();
        assert_eq!(
            sorted(web.iter().map(|p| p.key()).collect()),
            ["a/web", "b/web"]
        );
        assert_eq!(DECODES.load(Ordering::SeqCst) - before, 2);
        let before = DECODES.load(Ordering::SeqCst);
        let in_a = lister.by_namespace("a").list_selected("app!=db").unwrap();
        assert_eq!(in_a.len(), 1);
        assert_eq!(DECODES.load(Ordering::SeqCst) - before, 1);
        let before = DECODES.load(Ordering::SeqCst);
        assert_eq!(
            lister
                .list_matching(&Selector::parse("!app").unwrap())
                .len(),
            1
        );
        assert_eq!(DECODES.load(Ordering::SeqCst) - before, 1);
        // The same answers from a store that keeps objects decoded.
        let plain = StoreWriter::new();
        for p in s.list() {
            plain.apply((*p).clone());
        }
        let plain = Lister::new(plain.store());
        assert_eq!(plain.list_selected("app=web").unwrap().len(), 2);
        assert_eq!(
            plain
                .by_namespace("a")
                .list_selected("app!=db")
                .unwrap()
                .len(),
            1
        );
    }

    #[cfg(feature = "compact")]
    #[test]
    fn packed_on_arrival_lists_replace_a_compact_store() {
        let w = StoreWriter::compact();
        let s = w.store();
        s.add_indexer("node", by_node()).unwrap();
        w.apply(pod("a", "keep", Some("n1"), "1"));
        w.apply(pod("a", "gone", Some("n1"), "2"));
        // Only collected objects of a compact store are packed on arrival.
        assert!(matches!(
            s.hold(pod("a", "x", None, "1"), false),
            Held::Decoded(_)
        ));
        assert!(matches!(
            StoreWriter::<Pod>::new()
                .store()
                .hold(pod("a", "x", None, "1"), true),
            Held::Decoded(_)
        ));
        let held = vec![
            s.hold(pod("a", "keep", Some("n2"), "5"), true),
            s.hold(pod("a", "new", Some("n2"), "6"), true),
        ];
        assert!(held.iter().all(|h| matches!(h, Held::Packed(_))));
        assert_eq!(held[1].key(), "a/new");
        assert_eq!(held[1].resource_version(), Some("6"));
        assert_eq!(
            described(&w.replace_held(held, true)),
            ["added a/new", "updated a/keep 1->5", "vanished a/gone 2"]
        );
        assert!(s.index_keys("node", "n1").unwrap().is_empty());
        assert_eq!(
            sorted(s.index_keys("node", "n2").unwrap()),
            ["a/keep", "a/new"]
        );
        assert_eq!(
            *s.get_by_key("a/new").unwrap(),
            pod("a", "new", Some("n2"), "6")
        );

        // Nobody to tell: nothing decoded, nothing returned, the store still replaced; an
        // indexer added after packing is computed from the packed copy.
        let late = s.hold(pod("b", "late", Some("n3"), "7"), true);
        s.add_indexer(
            "rv",
            Arc::new(|p: &Pod| p.resource_version().map(String::from).into_iter().collect()),
        )
        .unwrap();
        assert!(w.replace_held(vec![late], false).is_empty());
        assert_eq!(s.list_keys(), ["b/late"]);
        assert_eq!(s.index_keys("rv", "7").unwrap(), ["b/late"]);
        assert_eq!(s.index_keys("node", "n3").unwrap(), ["b/late"]);
        assert!(s.index_keys("node", "n2").unwrap().is_empty());
    }

    #[test]
    fn a_panicking_index_function_leaves_indexes_consistent() {
        a_panicking_index_function_leaves_indexes_consistent_in(StoreWriter::new());
        #[cfg(feature = "compact")]
        a_panicking_index_function_leaves_indexes_consistent_in(StoreWriter::compact());
    }

    fn a_panicking_index_function_leaves_indexes_consistent_in(w: StoreWriter<Pod>) {
        let s = w.store();
        w.apply(pod("a", "early-bad", Some("n0"), "1"));
        // Panics on nodes named "bad", whatever the object.
        let picky: IndexFn<Pod> = Arc::new(|p: &Pod| {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            assert_ne!(node.as_deref(), Some("bad"), "no bad nodes");
            node.into_iter().collect()
        });
        s.add_indexer("node", picky).unwrap();
        w.apply(pod("a", "p1", Some("bad"), "2"));
        w.apply(pod("a", "p2", Some("n1"), "3"));
        assert_eq!(s.index_panics(), 1);
        assert_eq!(sorted(s.index_values("node").unwrap()), ["n0", "n1"]);
        // The panicking object is in the namespace index, not in the node index.
        assert_eq!(
            sorted(s.index_keys(NAMESPACE_INDEX, "a").unwrap()),
            ["a/early-bad", "a/p1", "a/p2"]
        );
        // Moving it off the bad node puts it in the index; moving another onto it takes that
        // one out of its old value.
        w.apply(pod("a", "p1", Some("n1"), "4"));
        assert_eq!(
            sorted(s.index_keys("node", "n1").unwrap()),
            ["a/p1", "a/p2"]
        );
        w.apply(pod("a", "p2", Some("bad"), "5"));
        assert_eq!(s.index_keys("node", "n1").unwrap(), ["a/p1"]);
        // Adding p1 on "bad", taking it out again, adding p2 on "bad".
        assert_eq!(s.index_panics(), 3);
        // Removing an object the function panics on (its stored state) takes its key out of
        // every value of the index.
        assert!(w.delete(pod("a", "p2", Some("bad"), "6")).is_some());
        assert_eq!(s.index_panics(), 4);
        assert_eq!(s.index_keys("node", "n1").unwrap(), ["a/p1"]);
        assert!(w.delete(pod("a", "p1", Some("n1"), "7")).is_some());
        assert_eq!(s.index_values("node").unwrap(), ["n0"]);
        // The store goes on working.
        w.apply(pod("b", "p3", Some("n3"), "8"));
        assert_eq!(s.index_keys("node", "n3").unwrap(), ["b/p3"]);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn unknown_and_duplicate_indexes_are_errors() {
        let w = StoreWriter::<Pod>::new();
        let s = w.store();
        assert_eq!(
            s.by_index("node", "x").unwrap_err(),
            CacheError::UnknownIndex {
                name: "node".into()
            }
        );
        assert_eq!(
            s.add_indexer(NAMESPACE_INDEX, by_node()).unwrap_err(),
            CacheError::IndexExists {
                name: NAMESPACE_INDEX.into()
            }
        );
    }

    #[test]
    fn indexer_added_late_covers_existing_objects() {
        indexer_added_late_covers_existing_objects_in(StoreWriter::new());
        #[cfg(feature = "compact")]
        indexer_added_late_covers_existing_objects_in(StoreWriter::compact());
    }

    fn indexer_added_late_covers_existing_objects_in(w: StoreWriter<Pod>) {
        w.apply(pod("a", "p1", Some("n1"), "1"));
        w.store().add_indexer("node", by_node()).unwrap();
        assert_eq!(w.store().by_index("node", "n1").unwrap().len(), 1);
    }

    #[test]
    fn replace_reports_adds_updates_and_vanished() {
        replace_reports_adds_updates_and_vanished_in(StoreWriter::new());
        #[cfg(feature = "compact")]
        replace_reports_adds_updates_and_vanished_in(StoreWriter::compact());
    }

    fn replace_reports_adds_updates_and_vanished_in(w: StoreWriter<Pod>) {
        let s = w.store();
        s.add_indexer("node", by_node()).unwrap();
        w.apply(pod("a", "keep", Some("n1"), "1"));
        w.apply(pod("a", "gone", Some("n1"), "2"));
        let changes = w.replace(vec![
            pod("a", "keep", Some("n1"), "5"),
            pod("a", "new", Some("n2"), "6"),
        ]);
        assert_eq!(
            described(&changes),
            ["added a/new", "updated a/keep 1->5", "vanished a/gone 2"]
        );
        assert_eq!(s.index_keys("node", "n1").unwrap(), ["a/keep"]);
        assert_eq!(s.index_keys("node", "n2").unwrap(), ["a/new"]);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn cluster_scoped_objects_are_keyed_by_name() {
        let w = StoreWriter::new();
        let mut ns = Namespace::default();
        ns.metadata.name = Some("kube-system".into());
        w.apply(ns);
        assert!(w.store().get_by_key("kube-system").is_some());
        assert!(w.store().index_values(NAMESPACE_INDEX).unwrap().is_empty());
    }

    #[test]
    fn concurrent_readers_and_a_writer() {
        concurrent_readers_and_a_writer_in(StoreWriter::new());
        #[cfg(feature = "compact")]
        concurrent_readers_and_a_writer_in(StoreWriter::compact());
    }

    fn concurrent_readers_and_a_writer_in(w: StoreWriter<Pod>) {
        let s = w.store();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        let n = s.list().len();
                        assert!(n <= 500);
                        let _ = s.by_index(NAMESPACE_INDEX, "a").unwrap();
                    }
                })
            })
            .collect();
        for i in 0..500 {
            w.apply(pod("a", &format!("p{i}"), None, "1"));
        }
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(s.len(), 500);
    }
}
