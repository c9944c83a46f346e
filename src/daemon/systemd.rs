//! Talking to systemd (`Type=notify`) over `$NOTIFY_SOCKET`: `READY=1` once gazette serves,
//! `STATUS=` lines, `WATCHDOG=1` while healthy, `RELOADING=1` around a reload and
//! `STOPPING=1` at shutdown. Outside systemd there is no socket and every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Startup is done: the HTTP server listens.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A one-line status for `systemctl status`.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// Config is being reloaded (SIGHUP); [`ready`] follows.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Shutdown has begun.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// gazette is healthy.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to send [`watchdog`]: half the interval systemd set, if it set one.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|interval| interval / 2)
}
