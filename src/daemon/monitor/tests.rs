//! The monitor without its threads: its ways out are channels the test
//! holds, the state writer an injected function, the sockets name
//! interfaces that do not exist (sending fails and is logged once).

use super::persist::DURABLE_EVERY;
use super::*;
use crate::config::Role;
use crate::config::{IfName, SystemView};
use crate::daemon::saver::Saver;
use crate::engine::{MoveId, Notice};
use crate::proto::store::State;
use crate::proto::{ClaimId, Flags, Seq};
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

struct NoSystem;

impl SystemView for NoSystem {
    fn interface_for(&self, _: IpAddr) -> Option<IfName> {
        None
    }
}

const CONF: &str = "\
role = secondary
network = public ipfo-nx-pub 198.18.0.255
network = private ipfo-nx-priv 198.19.0.255
peer = 198.19.0.1
address = ipfo-nx-pub:198.18.0.10/24
mode = static
auth_key_file = /nonexistent/ipfailoverd.key
legacy_heartbeat = yes-unauthenticated
state_dir = /nonexistent/ipfailoverd
";

const LONG: Duration = Duration::from_secs(10);

struct Rig {
    m: Monitor,
    mails: Receiver<Mail>,
}

/// A secondary whose state file said `peer_speaks_v1`, saving with `save`.
fn rig(peer_speaks_v1: bool, save: impl FnMut(&State, bool) -> std::io::Result<()> + Send + 'static) -> Rig {
    let cfg = crate::config::parse(CONF, "t.conf", &NoSystem).unwrap();
    let (mover, _) = mpsc::channel();
    let (mail, mails) = mpsc::sync_channel(64);
    let readers = [mpsc::channel().0, mpsc::channel().0];
    let out = NetId::ALL.map(|net| {
        let n = cfg.network(net);
        Outbox::new(net.as_str(), n.interface.as_str(), SocketAddr::new(n.dest, 1694))
    });
    let saver = Saver::with("test".into(), save).unwrap();
    // No check lines in CONF: the checks thread runs none.
    let (events, _) = mpsc::sync_channel(1);
    let checks = crate::daemon::checks::Checks::spawn(&cfg, post(&events, Event::Checks)).unwrap();
    let io = Io {
        out,
        mover,
        mail,
        readers,
        inbox: Default::default(),
        saver,
        checks,
        metrics: None,
        addrwatch: None,
    };
    let pair = cfg.pair_name();
    let pair_id = pair_id_of(&cfg);
    let id = Identity {
        sender: SenderId(2),
        generation: Generation(100),
        state_dir: "/nonexistent".into(),
        peer_speaks_v1,
        pair,
        pair_id,
    };
    let guard = Guard::new(Role::Secondary, SenderId(2), &[]).with_own_generation(Generation(100));
    let key = Some(Arc::new(Key::new(b"monitor-test-key-0123456789")));
    Rig { m: Monitor::new(cfg, key, id, guard, io, Instant::now()), mails }
}

/// Each state the writer is given, and whether to save it durably.
type Saved = Receiver<(State, bool)>;

/// A save function that sends the test each state it is given.
fn recorder() -> (impl FnMut(&State, bool) -> std::io::Result<()> + Send + 'static, Saved) {
    let (tx, rx) = mpsc::channel();
    (
        move |s: &State, durable| {
            let _ = tx.send((s.clone(), durable));
            Ok(())
        },
        rx,
    )
}

fn pair_id_of(cfg: &Config) -> PairId {
    cfg.pair_name().map_or(proto::pair::UNNAMED, |p| proto::pair::id(&p.name))
}

fn primary_heartbeat(net: NetId, seq: u64) -> Message {
    let cfg = crate::config::parse(CONF, "t.conf", &NoSystem).unwrap();
    Message {
        pair: pair_id_of(&cfg),
        kind: Kind::Heartbeat,
        role: Role::Primary,
        net,
        flags: Flags(Flags::STATIC | Flags::PUBLIC_UP | Flags::PRIVATE_UP),
        sender: SenderId(1),
        generation: Generation(50),
        seq: Seq(seq),
        claim: Some(ClaimId(0)),
    }
}

fn peer() -> SocketAddr {
    "198.19.0.1:1694".parse().unwrap()
}

/// Issue 16, item 4: once the primary has proved with the key that it
/// speaks protocol v1, the state file says so, and a secondary started
/// from that file ignores Apple's text from the first datagram on: a
/// restart no longer opens the door to forgeries.
#[test]
fn forged_text_does_not_count_after_a_restart_once_v1_was_proved() {
    let (save, saved) = recorder();
    let mut r = rig(false, save);
    r.m.legacy(NetId::Private, peer());
    assert_eq!(r.m.view.stats[NetId::Private.index()].legacy, 1, "an old Mac's text counts at first");
    r.m.datagram(NetId::Private, peer(), primary_heartbeat(NetId::Private, 1), Instant::now());
    // Recorded at once, not at the next periodic save.
    let (state, durable) = saved.recv_timeout(LONG).expect("the flag is saved");
    assert!(state.peer_speaks_v1 && durable, "{state:?}");
    r.m.legacy(NetId::Private, peer());
    assert_eq!(
        r.m.view.stats[NetId::Private.index()].rejected.get(&proto::Reject::LegacySuperseded),
        Some(&1)
    );

    // The restart: a new monitor from what was saved.
    let (save, saved_again) = recorder();
    let mut r = rig(state.peer_speaks_v1, save);
    r.m.legacy(NetId::Private, peer());
    r.m.legacy(NetId::Public, "198.18.0.10:1694".parse().unwrap());
    let stats = &r.m.view.stats;
    assert_eq!(stats[0].legacy + stats[1].legacy, 0, "forged text counted after the restart");
    assert_eq!(stats[1].rejected.get(&proto::Reject::LegacySuperseded), Some(&1));
    assert_eq!(stats[0].rejected.get(&proto::Reject::LegacySuperseded), Some(&1));
    assert_eq!(r.m.engine.last_heard(NetId::Private), None);
    assert_eq!(r.m.engine.last_heard(NetId::Public), None);
    // What it saves keeps the flag.
    r.m.persist(true);
    assert!(saved_again.recv_timeout(LONG).unwrap().0.peer_speaks_v1);
}

/// Issue 16, item 5: every notice goes through the rate limiter on its
/// way to the notifier (the limiter's timing is tested on a virtual clock
/// in `mail/rate.rs`).
#[test]
fn repeated_notices_reach_the_notifier_once() {
    let (save, _saved) = recorder();
    let mut r = rig(false, save);
    for _ in 0..5 {
        r.m.notice(Notice::ProbeAnswered);
        r.m.notice(Notice::PeerLost { silent_for: Duration::from_secs(3) });
        r.m.notice(Notice::PeerBack);
    }
    r.m.flush_mail();
    let subjects: Vec<String> = r.mails.try_iter().map(|m| m.subject).collect();
    // Each variant once, in order; the rest held back for 10 minutes.
    assert_eq!(
        subjects,
        [
            "service address in use by another host",
            "secondary no longer heard: the pair has no standby",
            "secondary heard again: the pair has its standby back"
        ],
        "{subjects:?}"
    );
}

/// The log line and the mail put the subject before the details: the
/// details must not say it a second time.
#[test]
fn same_role_details_do_not_repeat_the_subject() {
    let (save, _saved) = recorder();
    let r = rig(false, save);
    for holding in [false, true] {
        let (subject, details) = r.m.same_role_words(holding);
        assert!(subject.starts_with("another node of this pair also runs as"), "{subject}");
        assert!(!details.contains(&subject), "{details}");
        assert!(details.starts_with("Check the role line"), "{details}");
    }
}

/// Issue 16, item 6: the state file is written off the monitor thread.
/// The writer is stuck inside its save (a gate the test holds closed);
/// the monitor, on its own thread here, still saves, hears and sends.
#[test]
fn a_stalled_state_disk_does_not_hold_up_the_monitor() {
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (gate_tx, gate) = mpsc::channel::<()>();
    let save = move |_: &State, _| {
        let _ = entered_tx.send(());
        let _ = gate.recv();
        Ok(())
    };
    let mut r = rig(false, save);
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        // The first v1 datagram is saved at once: the writer takes it and
        // sticks. Everything after must go on regardless.
        r.m.datagram(NetId::Private, peer(), primary_heartbeat(NetId::Private, 1), Instant::now());
        for seq in 2..200 {
            r.m.datagram(NetId::Public, peer(), primary_heartbeat(NetId::Public, seq), Instant::now());
            r.m.persist(true);
            r.m.send(Kind::Status, 1, ClaimId(0), None);
        }
        done_tx.send(r.m.view.stats[NetId::Public.index()].accepted).unwrap();
        // Shutdown: the final save waits only so long for the stuck disk.
        let finished = r.m.io.saver.finish(Duration::from_millis(50));
        done_tx.send(u64::from(finished)).unwrap();
    });
    assert_eq!(entered.recv_timeout(LONG), Ok(()), "the writer started saving");
    assert_eq!(done.recv_timeout(LONG), Ok(198), "the monitor waited for the disk");
    assert_eq!(done.recv_timeout(LONG), Ok(0), "finish gave up on the stuck writer");
    gate_tx.send(()).unwrap();
}

/// Issue 19: while only sequence numbers move, the floors are written at
/// most every second (every interval if longer), without fsync; a peer
/// that restarts, with a new generation, is written at once and durably,
/// so that no crash can bring its old generation's datagrams back.
#[test]
fn a_new_peer_generation_is_saved_at_once_and_sequence_progress_later() {
    let every = |interval: Duration| crate::engine::Timing::every(interval).persist_every();
    assert_eq!(every(Duration::from_millis(10)), Duration::from_secs(1));
    assert_eq!(every(Duration::from_secs(1)), Duration::from_secs(1));
    assert_eq!(every(Duration::from_secs(5)), Duration::from_secs(5));
    let (save, saved) = recorder();
    // The flag is recorded already: its own forced save stays out of this.
    let mut r = rig(true, save);
    let heartbeat = |generation, seq| {
        let mut m = primary_heartbeat(NetId::Private, seq);
        m.generation = Generation(generation);
        m
    };
    let floors = |s: &State| s.peers.iter().map(|f| (f.generation.0, f.seq.0)).collect::<Vec<_>>();
    r.m.datagram(NetId::Private, peer(), heartbeat(50, 1), Instant::now());
    let (first, durable) = saved.recv_timeout(LONG).expect("the peer's first generation is saved at once");
    assert_eq!((floors(&first), durable), (vec![(50, 1)], true));
    for seq in 2..50 {
        r.m.datagram(NetId::Private, peer(), heartbeat(50, seq), Instant::now());
    }
    r.m.datagram(NetId::Private, peer(), heartbeat(51, 1), Instant::now());
    // The writer saves each state it is handed, in order, or only the
    // newest of those handed meanwhile: the last one saved is the restart.
    let mut last = None;
    while let Ok(s) = saved.recv_timeout(Duration::from_millis(500)) {
        last = Some(s);
    }
    let (last, durable) = last.expect("the restart is saved at once");
    assert_eq!((floors(&last), durable), (vec![(51, 1)], true));
    // Routine progress of one generation waits for the next second.
    r.m.datagram(NetId::Private, peer(), heartbeat(51, 2), Instant::now());
    assert!(saved.recv_timeout(Duration::from_millis(200)).is_err(), "saved within the second");
    r.m.saving.backdate(Duration::from_secs(1), Duration::ZERO);
    r.m.datagram(NetId::Private, peer(), heartbeat(51, 3), Instant::now());
    let (routine, durable) = saved.recv_timeout(LONG).expect("progress is saved after a second");
    assert_eq!((floors(&routine), durable), (vec![(51, 3)], false), "and without fsync");
    // Once a minute, the routine write is durable too.
    r.m.saving.backdate(Duration::from_secs(1), DURABLE_EVERY);
    r.m.datagram(NetId::Private, peer(), heartbeat(51, 4), Instant::now());
    let (routine, durable) = saved.recv_timeout(LONG).expect("progress is saved after a second");
    assert_eq!((floors(&routine), durable), (vec![(51, 4)], true), "with fsync after a minute");
}

/// Issue 19: a datagram that waited in the inbox reaches the engine at the
/// instant it arrived, not when the monitor took it, so waiting moves no
/// deadline; and datagrams are taken in the order they arrived.
#[test]
fn a_queued_datagram_counts_from_its_arrival() {
    use crate::daemon::net::inbox::Arrival;
    let (save, _saved) = recorder();
    let mut r = rig(true, save);
    let first = Instant::now();
    let arrival = |seq, at| Arrival {
        net: NetId::Private,
        src: peer(),
        msg: primary_heartbeat(NetId::Private, seq),
        at,
    };
    r.m.io.inbox.push(arrival(1, first), false).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let second = Instant::now();
    r.m.io.inbox.push(arrival(2, second), false).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    r.m.take_inbox();
    assert_eq!(r.m.engine.last_datagram(NetId::Private), Some(second));
    assert_eq!(r.m.engine.last_heard(NetId::Private), Some(second));
    assert_eq!(r.m.view.stats[NetId::Private.index()].accepted, 2, "both accepted, in order");
    // One that arrived before the engine's latest step counts from then:
    // the engine's clock never goes back.
    r.m.io.inbox.push(arrival(3, first), false).unwrap();
    r.m.take_inbox();
    assert_eq!(r.m.engine.last_datagram(NetId::Private), Some(second));
}

/// Issue 30, item 8: a node whose own links are down does not mail "if
/// this server fails now, nobody takes over": it is the one cut off.
#[test]
fn peer_lost_says_when_this_node_is_the_one_cut_off() {
    let (save, _saved) = recorder();
    let mut r = rig(false, save);
    let (subject, details) = r.m.peer_lost_words(Duration::from_secs(3));
    assert_eq!(subject, "secondary no longer heard: the pair has no standby");
    assert!(details.contains("nobody takes over"), "{details}");
    for net in NetId::ALL {
        r.m.feed(Input::Link { net, up: false });
    }
    let (subject, details) = r.m.peer_lost_words(Duration::from_secs(3));
    assert_eq!(subject, "secondary no longer heard: this node's public and private links are down");
    assert!(details.contains("it is this node that is cut off"), "{details}");
    assert!(!details.contains("nobody takes over"), "{details}");
}

/// Issue 34: a move's mail waits for its watch's answer and carries it;
/// when the answer is not there within `confirm::MAIL_WAITS`, the mail goes
/// without it and the answer follows in a short mail of its own, unless a
/// later move ended the watch.
#[test]
fn a_move_mail_waits_for_the_first_client_packet_at_most_a_moment() {
    use crate::daemon::mover::confirm::{Confirmation, Found};
    let (save, _saved) = recorder();
    let mut r = rig(false, save);
    let at = std::time::SystemTime::now();
    let c = |id, found, repeats| Confirmation { id: MoveId(id), found, repeats, at };
    let mail = |n: u32| Mail { subject: format!("took over {n}"), body: "What: took over.\n".into() };
    let client = Found::Client {
        delay: Duration::from_micros(2500),
        from: "198.18.0.100".parse().unwrap(),
        to: "198.18.0.10".parse().unwrap(),
        kind: crate::sys::clientwatch::Kind::ArpRequest,
        interface: "eth0".into(),
    };

    // Seen within the moment: one mail, with the line.
    r.m.confirmed(c(7, Found::Watching { since: Instant::now() }, 0));
    r.m.move_mail_with_clients(MoveId(7), "k7".into(), mail(7));
    assert!(r.mails.try_recv().is_err(), "the mail waits for the watch");
    assert!(r.m.held_mail_due().is_some());
    r.m.confirmed(c(7, client.clone(), 0));
    let m = r.mails.try_recv().expect("the move mail");
    assert_eq!(m.subject, "took over 7");
    assert!(m.body.contains("\nClients: first client packet 2.5ms after the address was added, from 198.18.0.100 (an ARP request for 198.18.0.10 on eth0).\n"), "{}", m.body);
    assert!(r.mails.try_recv().is_err(), "no follow-up");
    assert_eq!(r.m.view.counters.confirm.seconds.count, 1);

    // Nobody within the moment: the mail goes without, the end follows.
    r.m.confirmed(c(8, Found::Watching { since: Instant::now() }, 0));
    r.m.move_mail_with_clients(MoveId(8), "k8".into(), mail(8));
    r.m.held_mail_timeout(Instant::now());
    assert!(r.mails.try_recv().is_err(), "not before its time");
    r.m.held_mail_timeout(Instant::now() + 2 * confirm::MAIL_WAITS);
    let m = r.mails.try_recv().expect("the move mail, without the answer");
    assert!(
        m.body
            .contains("\nClients: no packet from another host to these addresses yet (1.0s after the move)"),
        "{}",
        m.body
    );
    r.m.confirmed(c(8, Found::Nobody { watched: Duration::from_secs(10) }, 3));
    let f = r.mails.try_recv().expect("the follow-up");
    assert_eq!(f.subject, "no client packet for 198.18.0.10 within 10.0s after the move");
    assert!(f.body.contains("announced again 3 time(s), at 1.0s, 2.0s, 4.0s after the add"), "{}", f.body);
    assert_eq!(r.m.view.counters.confirm.nobody, 1);

    // Ended by a later move after the mail went: no follow-up.
    r.m.confirmed(c(9, Found::Watching { since: Instant::now() }, 0));
    r.m.move_mail_with_clients(MoveId(9), "k9".into(), mail(9));
    r.m.held_mail_timeout(Instant::now() + 2 * confirm::MAIL_WAITS);
    assert!(r.mails.try_recv().is_ok());
    r.m.confirmed(c(9, Found::Cut { after: Duration::from_secs(2) }, 1));
    assert!(r.mails.try_recv().is_err(), "a cut watch is not mailed again");
    let last = r.m.view.counters.confirm.last.as_ref().map(|l| (l.id, l.found.clone()));
    assert_eq!(last, Some((MoveId(9), Found::Cut { after: Duration::from_secs(2) })));
}
