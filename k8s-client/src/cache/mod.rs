//! Reflectors, stores with indexers, shared informers and listers (client-go `tools/cache`).
