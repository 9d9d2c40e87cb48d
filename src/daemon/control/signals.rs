//! The signal thread: signals are blocked in every thread (before any is
//! spawned) and received here with sigwait, then forwarded as events. No
//! handler ever runs, so nothing async-signal-unsafe can happen.

use crate::daemon::Event;
use crate::sys::signal;
use std::sync::mpsc::SyncSender;

pub(in crate::daemon) fn spawn(tx: SyncSender<Event>) -> std::io::Result<()> {
    std::thread::Builder::new().name("signals".into()).spawn(move || loop {
        match signal::wait_signal() {
            Ok(sig) => {
                if tx.send(Event::Signal(sig)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Event::ThreadFailed { name: "signals", error: e.to_string() });
                return;
            }
        }
    })?;
    Ok(())
}
