//! The state writer: saves the replay state (`proto::store::save`, a new
//! file, fsync, rename, fsync of the directory) on its own thread, so that
//! a stalled disk never delays a heartbeat. The monitor hands it the latest
//! state through a one-slot mailbox that a newer state overwrites: floors
//! only grow, so only the newest state matters, and a writer stuck for a
//! minute costs one save, not a queue. The monitor never waits for the
//! disk, except at shutdown, for a bounded time (`finish`). A state that
//! must survive a power loss (a generation) is saved `durable`, with
//! fsync; the routine progress of sequence numbers without, and a durable
//! state overwritten in the mailbox before it was written makes the newer
//! one durable.

use crate::log;
use crate::proto::store::State;
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[derive(Default)]
struct Inner {
    /// The state to save, and whether durably.
    latest: Option<(State, bool)>,
    closed: bool,
}

/// The mailbox: one state at most, and whether the monitor is done.
#[derive(Default)]
struct Slot {
    inner: Mutex<Inner>,
    wake: Condvar,
}

impl Slot {
    /// The lock is held only to put or take a state, never while saving,
    /// so a panic cannot leave it inconsistent: poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) struct Saver {
    slot: Arc<Slot>,
    /// Closed by the writer thread when it exits (its sender dropped).
    done: Receiver<()>,
}

impl Saver {
    /// A writer that saves into `dir`.
    pub(super) fn spawn(dir: PathBuf) -> io::Result<Saver> {
        let what = dir.display().to_string();
        Saver::with(what, move |state, durable| crate::proto::store::save(&dir, state, durable))
    }

    /// A writer with any save function (`where` names it in the log); the
    /// tests give it slow or failing ones.
    pub(super) fn with(
        place: String,
        save: impl FnMut(&State, bool) -> io::Result<()> + Send + 'static,
    ) -> io::Result<Saver> {
        let slot = Arc::new(Slot::default());
        let (done_tx, done) = std::sync::mpsc::channel::<()>();
        let theirs = Arc::clone(&slot);
        std::thread::Builder::new().name("state-writer".into()).spawn(move || {
            write_loop(&theirs, &place, save);
            drop(done_tx);
        })?;
        Ok(Saver { slot, done })
    }

    /// Hands over the newest state to save; an older one not yet taken by
    /// the writer is dropped (if it was to be durable, the newer one is).
    /// Never waits for the disk.
    pub(super) fn submit(&self, state: State, durable: bool) {
        let mut inner = self.slot.lock();
        if inner.closed {
            return;
        }
        let durable = durable || inner.latest.as_ref().is_some_and(|&(_, d)| d);
        inner.latest = Some((state, durable));
        drop(inner);
        self.slot.wake.notify_one();
    }

    /// No more states: the writer saves what it holds, then exits. Waits
    /// for that up to `timeout`; false when the writer did not finish (a
    /// disk stalled at shutdown must not keep the daemon from exiting).
    pub(super) fn finish(&self, timeout: Duration) -> bool {
        self.slot.lock().closed = true;
        self.slot.wake.notify_one();
        match self.done.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        }
    }
}

fn write_loop(slot: &Slot, place: &str, mut save: impl FnMut(&State, bool) -> io::Result<()>) {
    // Saving failed last time: said once, not at every attempt.
    let mut failing = false;
    // A durable save that failed: the next one must be durable instead.
    let mut owed = false;
    loop {
        let (state, durable) = {
            let mut inner = slot.lock();
            loop {
                if let Some(s) = inner.latest.take() {
                    break s;
                }
                if inner.closed {
                    return;
                }
                inner = slot.wake.wait(inner).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let durable = durable || owed;
        let saved = save(&state, durable);
        owed = durable && saved.is_err();
        match saved {
            Err(e) if !failing => {
                failing = true;
                log::error!(
                    "cannot save replay state in {place}: {e}; retrying every second, logged again once it works"
                );
            }
            Ok(()) if failing => {
                failing = false;
                log::notice!("replay state saved in {place} again");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn state(generation: u64) -> State {
        State { generation: crate::proto::Generation(generation), ..State::default() }
    }

    const LONG: Duration = Duration::from_secs(10);

    /// Issue 16, item 6: a writer stuck on the disk does not block the
    /// monitor. The save function waits on a gate the test holds; while it
    /// is closed, the "monitor" thread (which owns the saver) still gets
    /// through every `submit`, and only the newest of the states submitted
    /// meanwhile is written, durably if any of them was to be. Nothing
    /// depends on timing but the generous timeouts that turn a blocked
    /// submit into a failure, not a hang.
    #[test]
    fn a_stalled_disk_blocks_nobody_and_only_the_newest_state_is_written() {
        let (entered_tx, entered) = mpsc::channel::<(u64, bool)>();
        let (gate_tx, gate) = mpsc::channel::<()>();
        let saver = Saver::with("test".into(), move |s, durable| {
            entered_tx.send((s.generation.0, durable)).unwrap();
            gate.recv().unwrap();
            Ok(())
        })
        .unwrap();
        let (step_tx, step) = mpsc::channel::<()>();
        let (report_tx, report) = mpsc::channel::<&str>();
        std::thread::spawn(move || {
            saver.submit(state(1), false);
            step.recv().unwrap();
            // The writer is inside save(1), stuck.
            for g in 2..=50 {
                saver.submit(state(g), g == 10);
            }
            report_tx.send("submitted").unwrap();
            let stuck = !saver.finish(Duration::from_millis(50));
            report_tx.send(if stuck { "finish gave up" } else { "finish returned" }).unwrap();
            step.recv().unwrap();
            report_tx.send(if saver.finish(LONG) { "finished" } else { "not finished" }).unwrap();
            saver.submit(state(51), true);
        });
        assert_eq!(entered.recv_timeout(LONG), Ok((1, false)), "the writer took the first state");
        step_tx.send(()).unwrap();
        assert_eq!(report.recv_timeout(LONG), Ok("submitted"), "submit waited for the disk");
        assert_eq!(report.recv_timeout(LONG), Ok("finish gave up"), "finish waits only so long");
        gate_tx.send(()).unwrap();
        assert_eq!(
            entered.recv_timeout(LONG),
            Ok((50, true)),
            "the newest state is saved next, durably as 10 was"
        );
        gate_tx.send(()).unwrap();
        step_tx.send(()).unwrap();
        assert_eq!(report.recv_timeout(LONG), Ok("finished"));
        assert!(
            entered.recv_timeout(Duration::from_millis(100)).is_err(),
            "states 2 to 49 and 51 never written"
        );
    }

    #[test]
    fn the_last_state_is_saved_before_finish_returns() {
        let (tx, rx) = mpsc::channel::<u64>();
        let saver = Saver::with("test".into(), move |s, _| {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(s.generation.0).unwrap();
            Ok(())
        })
        .unwrap();
        saver.submit(state(7), true);
        assert!(saver.finish(LONG));
        assert_eq!(rx.try_iter().last(), Some(7));
    }

    #[test]
    fn a_failing_disk_is_retried_with_the_next_state() {
        let (tx, rx) = mpsc::channel::<(u64, bool)>();
        let mut calls = 0;
        let saver = Saver::with("test".into(), move |s, durable| {
            calls += 1;
            tx.send((s.generation.0, durable)).unwrap();
            if calls == 1 {
                Err(io::Error::other("disk full"))
            } else {
                Ok(())
            }
        })
        .unwrap();
        saver.submit(state(1), true);
        assert_eq!(rx.recv_timeout(LONG), Ok((1, true)));
        // The generation it failed to make durable: the next save is.
        saver.submit(state(2), false);
        assert_eq!(rx.recv_timeout(LONG), Ok((2, true)));
        saver.submit(state(3), false);
        assert_eq!(rx.recv_timeout(LONG), Ok((3, false)), "and only that one");
        assert!(saver.finish(LONG));
    }
}
