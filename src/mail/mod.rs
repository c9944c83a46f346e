//! Email: building messages ([`message`]); the transports that send them come next.

pub mod message;
