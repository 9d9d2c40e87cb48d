//! The readers' datagrams on their way to the monitor, without a wake-up
//! each. A reader queues every datagram that passed its checks here, with
//! the instant it arrived, and wakes the monitor (`News::Heard`) only for
//! one that may change something: the first of its kind, one whose kind,
//! flags, claim or sender differ from the previous one on that network, or
//! one after a silence (see `Routine`). The routine ones, the peer's
//! heartbeat or status saying again what it said an interval ago, wait for
//! the monitor's next wake-up: at the latest its next heartbeat or status
//! to send, or the deadline the engine asked for, and the monitor empties
//! the queue before anything else it does. The engine learns of each with
//! the instant it arrived, so waiting changes no deadline; it spares the
//! monitor a wake-up per datagram, which at a 10 ms interval is most of
//! what an idle node does besides sending (issue 19). One wake-up on its
//! way is enough: until the monitor takes the queue, news adds none, so a
//! flood puts at most one `Heard` at a time in the event channel.
//!
//! One queue for both networks keeps the order in which the datagrams
//! arrived, as the channel did. It is bounded: a reader that finds it full
//! waits for the monitor to empty it, as it waited on the full channel,
//! and meanwhile the kernel drops what does not fit in the socket buffer.

use crate::config::NetId;
use crate::proto::{Kind, Message};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// At most this many datagrams wait; with the monitor waking at least every
/// interval, an idle pair queues one or two.
const CAPACITY: usize = 256;
/// How many intervals may pass between two datagrams on one network before
/// the second is news: a healthy secondary sends its status on each network
/// every second interval (in turn), so two, and one for the scheduler's
/// jitter. A longer silence may have been judged by the engine already (it
/// takes dead_after, at least two intervals, and the monitor wakes within
/// an interval anyway).
const QUIET: u32 = 3;
/// A reader wakes the monitor for a routine datagram, too, once this many
/// wait: the monitor is not waking up on its own (a flood from the peer).
const WAKE_AT: usize = 16;

/// A datagram that passed the reader's checks.
#[derive(Debug)]
pub(in crate::daemon) struct Arrival {
    pub net: NetId,
    pub src: SocketAddr,
    pub msg: Message,
    /// When the reader received it.
    pub at: Instant,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Arrival>,
    /// A reader sent `News::Heard` since the monitor last took the queue.
    called: bool,
    /// The monitor is gone: nothing is taken any more.
    closed: bool,
}

#[derive(Default)]
pub(in crate::daemon) struct Inbox {
    queue: Mutex<Queue>,
    /// Signalled when the monitor empties the queue.
    room: Condvar,
}

impl Inbox {
    /// The lock is held only to push or take, never across a call that
    /// could panic halfway: poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a datagram, waiting for room if the queue is full, and says
    /// whether the reader must wake the monitor (`News::Heard`): for news,
    /// or for a queue grown to `WAKE_AT` that the monitor has not taken,
    /// unless a wake-up is on its way already. `None` when the monitor is
    /// gone.
    pub(in crate::daemon) fn push(&self, arrival: Arrival, news: bool) -> Option<bool> {
        let mut q = self.lock();
        while q.waiting.len() >= CAPACITY && !q.closed {
            q = self.room.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        if q.closed {
            return None;
        }
        q.waiting.push_back(arrival);
        let wake = (news || q.waiting.len() >= WAKE_AT) && !q.called;
        q.called |= wake;
        Some(wake)
    }

    /// Swaps everything that waits, oldest first, into `into` (empty:
    /// the two queues trade places, so taking allocates nothing).
    pub(in crate::daemon) fn take(&self, into: &mut VecDeque<Arrival>) {
        let mut q = self.lock();
        std::mem::swap(&mut q.waiting, into);
        q.called = false;
        drop(q);
        self.room.notify_all();
    }

    /// The monitor stops: readers waiting for room, or pushing later, are
    /// told so and end.
    pub(in crate::daemon) fn close(&self) {
        self.lock().closed = true;
        self.room.notify_all();
    }
}

/// What makes a datagram news: the same as the previous one on its network
/// in all of this, and arriving within `QUIET` intervals of it, it is
/// routine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Gist {
    kind: Kind,
    role: crate::config::Role,
    net: NetId,
    sender: crate::proto::SenderId,
    generation: crate::proto::Generation,
    pair: crate::proto::PairId,
    flags: crate::proto::Flags,
    claim: Option<crate::proto::ClaimId>,
}

impl Gist {
    fn of(msg: &Message) -> Gist {
        Gist {
            kind: msg.kind,
            role: msg.role,
            net: msg.net,
            sender: msg.sender,
            generation: msg.generation,
            pair: msg.pair,
            flags: msg.flags,
            claim: msg.claim,
        }
    }
}

/// A reader's memory of the previous datagram on its network.
#[derive(Default)]
pub(in crate::daemon) struct Routine {
    last: Option<(Gist, Instant)>,
}

impl Routine {
    /// Whether `msg`, arriving `at`, says nothing new: only heartbeats and
    /// status repeat; a claim, a release or a goodbye is always news, and
    /// so is anything after a silence (`QUIET`).
    pub(in crate::daemon) fn repeats(&mut self, msg: &Message, at: Instant, interval: Duration) -> bool {
        let gist = Gist::of(msg);
        let repeats = matches!(msg.kind, Kind::Heartbeat | Kind::Status)
            && self
                .last
                .is_some_and(|(g, t)| g == gist && at.saturating_duration_since(t) <= interval * QUIET);
        self.last = Some((gist, at));
        repeats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;
    use crate::proto::Flags;
    use std::sync::Arc;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn msg(kind: Kind, flags: u16, seq: u64) -> Message {
        Message {
            kind,
            role: Role::Primary,
            net: NetId::Public,
            flags: Flags(flags),
            sender: crate::proto::SenderId(7),
            generation: crate::proto::Generation(3),
            seq: crate::proto::Seq(seq),
            pair: crate::proto::PairId(0),
            claim: Some(crate::proto::ClaimId(1)),
        }
    }

    fn arrival(seq: u64) -> Arrival {
        Arrival {
            net: NetId::Public,
            src: "198.18.0.1:1694".parse().unwrap(),
            msg: msg(Kind::Heartbeat, 0, seq),
            at: Instant::now(),
        }
    }

    #[test]
    fn only_a_repeat_within_two_intervals_is_routine() {
        let t0 = Instant::now();
        let iv = MS(10);
        let mut r = Routine::default();
        assert!(!r.repeats(&msg(Kind::Heartbeat, 1, 1), t0, iv), "the first is news");
        assert!(r.repeats(&msg(Kind::Heartbeat, 1, 2), t0 + MS(10), iv), "the same again, seq aside");
        assert!(r.repeats(&msg(Kind::Heartbeat, 1, 3), t0 + MS(40), iv), "three intervals later still");
        assert!(!r.repeats(&msg(Kind::Heartbeat, 1, 4), t0 + MS(71), iv), "after a silence: news");
        assert!(!r.repeats(&msg(Kind::Heartbeat, 3, 5), t0 + MS(72), iv), "new flags: news");
        assert!(r.repeats(&msg(Kind::Heartbeat, 3, 6), t0 + MS(73), iv));
        let mut other = msg(Kind::Heartbeat, 3, 7);
        other.claim = Some(crate::proto::ClaimId(2));
        assert!(!r.repeats(&other, t0 + MS(74), iv), "a new claim id: news");
        other.generation = crate::proto::Generation(4);
        assert!(!r.repeats(&other, t0 + MS(75), iv), "a restarted peer: news");
        assert!(!r.repeats(&msg(Kind::Status, 3, 8), t0 + MS(76), iv), "another kind: news");
        for kind in [Kind::Claim, Kind::Released, Kind::Goodbye] {
            assert!(!r.repeats(&msg(kind, 3, 9), t0 + MS(77), iv), "{kind:?} is never routine");
            assert!(!r.repeats(&msg(kind, 3, 10), t0 + MS(78), iv), "{kind:?} twice is still news");
        }
    }

    fn taken(inbox: &Inbox) -> Vec<u64> {
        let mut all = VecDeque::new();
        inbox.take(&mut all);
        all.into_iter().map(|a| a.msg.seq.0).collect()
    }

    #[test]
    fn one_wake_up_at_a_time_for_news_or_a_growing_queue() {
        let inbox = Inbox::default();
        assert_eq!(inbox.push(arrival(1), false), Some(false), "routine waits");
        assert_eq!(inbox.push(arrival(2), true), Some(true), "news wakes the monitor");
        assert_eq!(inbox.push(arrival(3), true), Some(false), "a wake-up is on its way already");
        assert_eq!(taken(&inbox), [1, 2, 3]);
        assert_eq!(inbox.push(arrival(4), true), Some(true), "once taken, news wakes again");
        taken(&inbox);
        for seq in 1..WAKE_AT as u64 {
            assert_eq!(inbox.push(arrival(seq), false), Some(false));
        }
        assert_eq!(inbox.push(arrival(99), false), Some(true), "a queue the monitor does not take");
        assert_eq!(inbox.push(arrival(100), false), Some(false));
    }

    #[test]
    fn the_queue_keeps_the_order_and_empties() {
        let inbox = Inbox::default();
        inbox.push(arrival(1), false).unwrap();
        inbox.push(arrival(2), false).unwrap();
        assert_eq!(taken(&inbox), [1, 2]);
        assert!(taken(&inbox).is_empty());
        inbox.push(arrival(3), false).unwrap();
        assert_eq!(taken(&inbox), [3]);
    }

    #[test]
    fn a_full_queue_holds_the_reader_until_the_monitor_takes() {
        let inbox = Arc::new(Inbox::default());
        for seq in 0..CAPACITY as u64 {
            inbox.push(arrival(seq), false).unwrap();
        }
        let theirs = Arc::clone(&inbox);
        let reader = std::thread::spawn(move || theirs.push(arrival(CAPACITY as u64), false));
        // The reader cannot push before the queue is taken.
        assert_eq!(taken(&inbox).len(), CAPACITY);
        assert_eq!(reader.join().unwrap(), Some(false), "then it pushes into the empty queue");
        assert_eq!(taken(&inbox), [CAPACITY as u64], "nothing lost");
    }

    #[test]
    fn a_closed_inbox_releases_a_waiting_reader() {
        let inbox = Arc::new(Inbox::default());
        for seq in 0..CAPACITY as u64 {
            inbox.push(arrival(seq), false).unwrap();
        }
        let theirs = Arc::clone(&inbox);
        let reader = std::thread::spawn(move || theirs.push(arrival(0), true));
        inbox.close();
        assert_eq!(reader.join().unwrap(), None);
        assert_eq!(inbox.push(arrival(1), true), None, "and later pushes fail at once");
    }
}
