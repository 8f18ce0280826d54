//! What controllers are built from besides caches: work queues, the controller loop, leader
//! election, event recorders, watch utilities and installing CustomResourceDefinitions.

pub mod controller;
pub mod crd;
pub mod events;
pub mod finalizer;
pub mod leader_election;
pub mod wait;
pub mod workqueue;
