//! Digests: which articles each subscriber gets ([`select`]), their messages ([`compose`],
//! through [`crate::render`]), and one run that sends and records them ([`run`]).

pub mod compose;
pub mod progress;
pub mod run;
pub mod select;
