//! The error type of the cache module.

/// What can go wrong reading a cache or parsing a selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A lookup named an index the store does not have.
    #[error("the store has no index named {name:?}")]
    UnknownIndex {
        /// The index asked for.
        name: String,
    },
    /// An index of this name exists already.
    #[error("the store already has an index named {name:?}")]
    IndexExists {
        /// The index being added.
        name: String,
    },
    /// A label selector could not be parsed.
    #[error("invalid label selector {selector:?} at byte {position}: {message}")]
    Selector {
        /// The selector as given.
        selector: String,
        /// Where in it the problem is (byte offset).
        position: usize,
        /// What is wrong.
        message: String,
    },
}

impl From<CacheError> for crate::error::Error {
    /// Kept whole as [`Error::Other`](crate::error::Error::Other): `is_not_found()` and
    /// friends see the API error inside, and `find::<CacheError>()` gives it back.
    fn from(e: CacheError) -> Self {
        crate::error::Error::other(e)
    }
}
