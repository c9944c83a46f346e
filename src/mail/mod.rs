//! Email: building messages ([`message`], with display names encoded by [`display_name`]), signing them ([`dkim`]), and sending them: where
//! they go ([`transport`]), one SMTP connection ([`smtp`]), how hard to try ([`retry`]), and how
//! fast, across every instance ([`pace`]).

pub mod display_name;
pub mod dkim;
pub mod message;
pub mod pace;
pub mod retry;
pub mod smtp;
pub mod transport;
