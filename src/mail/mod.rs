//! Email: building messages ([`message`]) and sending them ([`transport`]).

pub mod message;
pub mod transport;
