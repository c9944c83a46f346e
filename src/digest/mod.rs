//! Digests: which articles each subscriber gets ([`select`]) and how the message reads
//! ([`render`]). Sending, retrying and recording deliveries build on these.

pub mod compose;
pub mod progress;
pub mod render;
pub mod run;
pub mod select;
