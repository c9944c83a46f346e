//! Digests: which articles each subscriber gets ([`select`]), their messages ([`compose`],
//! through [`crate::render`]), one run that sends and records them ([`run`]) while its
//! leases hold ([`lease`]), and a run's copies on the web ([`copy`]).

pub mod compose;
pub mod copy;
pub mod lease;
pub mod progress;
pub mod run;
pub mod select;
