//! Everything the monitor hears about, through one channel. Each worker
//! sends its own payload type through a `Post` (`daemon/post.rs`); the
//! variants below wrap them, so the workers never name this type.

use crate::daemon::checks;
use crate::daemon::control::Asked;
use crate::daemon::mover::confirm::Confirmation;
use crate::daemon::mover::Report;
use crate::daemon::net::News;
use crate::daemon::post::{Failed, Gone, Post};
use crate::daemon::probe::Probed;
use crate::daemon::view::counters::Mailed;
use crate::sys::signal::Signal;
use std::sync::mpsc::SyncSender;

#[derive(Debug)]
pub(in crate::daemon) enum Event {
    /// A reader's word: news in the inbox, Apple's text, rejections, links.
    Reader(News),
    /// The address watch says: look at the kernel (`addrwatch.rs`).
    Addresses(crate::daemon::addrwatch::Look),
    /// A thread hit an error it cannot recover from.
    ThreadFailed(Failed),
    Signal(Signal),
    /// A probe of the service addresses ended (`probe.rs`).
    Probed(Probed),
    /// The mover finished a move of the addresses.
    Moved(Report),
    /// What the watch for the first client packet after a move found
    /// (`mover/confirm.rs`).
    Confirmed(Confirmation),
    /// The service checks: a fitness change, or their state for status.
    Checks(checks::News),
    /// What became of a mail (the notifier says so after each).
    Mailed(Mailed),
    /// A request on the control socket, and where its answer goes.
    Control(Asked),
}

/// A worker's `Post` into the monitor's channel `tx`: what it sends is
/// wrapped by `wrap` (a variant of `Event`, or a function choosing one).
pub(in crate::daemon) fn post<T: 'static>(
    tx: &SyncSender<Event>,
    wrap: impl Fn(T) -> Event + Send + Sync + 'static,
) -> Post<T> {
    let tx = tx.clone();
    Post::new(move |what| tx.send(wrap(what)).map_err(|_| Gone))
}

/// For a worker that sends `Ok` news or its own failure (the address
/// watch, the signal thread).
pub(in crate::daemon) fn or_failed<T>(wrap: fn(T) -> Event, what: Result<T, Failed>) -> Event {
    match what {
        Ok(t) => wrap(t),
        Err(f) => Event::ThreadFailed(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A worker's `Post` lands in the monitor's channel as its variant, in
    /// order; a failure as `ThreadFailed`; once the monitor is gone the
    /// worker hears `Gone` and may stop.
    #[test]
    fn a_post_arrives_wrapped_and_says_when_the_monitor_is_gone() {
        let (tx, rx) = mpsc::sync_channel(4);
        let mailed = post(&tx, Event::Mailed);
        let signals = post(&tx, |s| or_failed(Event::Signal, s));
        assert_eq!(mailed.send(Mailed::Dropped(2)), Ok(()));
        assert_eq!(signals.clone().send(Ok(Signal::Hup)), Ok(()));
        assert_eq!(signals.send(Err(Failed { name: "signals", error: "EINTR".into() })), Ok(()));
        let got: Vec<Event> = rx.try_iter().collect();
        assert!(
            matches!(
                &got[..],
                [
                    Event::Mailed(Mailed::Dropped(2)),
                    Event::Signal(Signal::Hup),
                    Event::ThreadFailed(Failed { name: "signals", .. })
                ]
            ),
            "{got:?}"
        );
        drop(rx);
        assert_eq!(mailed.send(Mailed::HandedOver), Err(Gone));
    }
}
