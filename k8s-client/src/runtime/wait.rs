//! Watch utilities: a retrying watcher and `wait_until` helpers.
