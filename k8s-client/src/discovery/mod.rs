//! What the server serves: versions, groups, resources; memory and disk caches; kind/resource mapping; version-skew checks.
