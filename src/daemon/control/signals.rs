//! The signal thread: signals are blocked in every thread (before any is
//! spawned) and received here with sigwait, then forwarded as events. No
//! handler ever runs, so nothing async-signal-unsafe can happen.

use crate::daemon::post::{Failed, Post};
use crate::sys::signal::{self, Signal};

pub(in crate::daemon) fn spawn(tx: Post<Result<Signal, Failed>>) -> std::io::Result<()> {
    std::thread::Builder::new().name("signals".into()).spawn(move || loop {
        match signal::wait_signal() {
            Ok(sig) => {
                if tx.send(Ok(sig)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(Failed { name: "signals", error: e.to_string() }));
                return;
            }
        }
    })?;
    Ok(())
}
