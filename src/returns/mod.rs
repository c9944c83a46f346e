//! Returned mail: what comes back after a message left (bounces, complaints, auto-replies),
//! attributed exactly by the envelope sender each message went out with ([`verp`]), and read
//! for what it says ([`report`]).

pub mod lmtp;
pub mod process;
pub mod report;
pub mod verp;
