//! Event recorders (`events.k8s.io/v1`, core/v1) with aggregation and a spam filter.
