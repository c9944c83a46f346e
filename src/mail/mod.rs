//! Email: building messages ([`message`], with display names encoded by [`display_name`]), signing them ([`dkim`]), and sending them: where
//! they go ([`transport`]), one SMTP connection ([`smtp`]), and how hard to try ([`retry`]).

pub mod display_name;
pub mod dkim;
pub mod message;
pub mod retry;
pub mod smtp;
pub mod transport;
