//! The controller loop: informers feed keys to a work queue, workers reconcile them.
