//! What controllers are built from besides caches: work queues, the controller loop, leader
//! election, event recorders and watch utilities.

pub mod controller;
pub mod events;
pub mod leader_election;
pub mod wait;
pub mod workqueue;
