use super::*;
use crate::proto::codec::{Kind, MAX_LEN};

/// Our clock, in generation units.
const NOW: u64 = 1_800_000_000 << 20;
/// Our generation: we started an hour ago.
const OURS: u64 = NOW - (3600 << 20);
const ME: u32 = 0x5111_0001;
const PEER: u32 = 0x5111_0002;
const RIVAL: u32 = 0x5111_0003;
const PAIR: u64 = 0xabcd;

fn me() -> Me {
    Me { role: Role::Primary, sender: ME, generation: OURS, pair: PAIR }
}

fn intake() -> Intake {
    Intake::new(me(), Guard::new(Role::Primary, ME, &[]))
}

fn msg(role: Role, sender: u32, generation: u64, seq: u64, net: NetId) -> Message {
    Message {
        kind: if role == Role::Primary { Kind::Heartbeat } else { Kind::Status },
        role,
        net,
        flags: Flags(Flags::HOLDING),
        sender,
        generation,
        seq,
        pair: PAIR,
        claim: Some(7),
    }
}

/// A datagram of the peer (the secondary).
fn peer(generation: u64, seq: u64, net: NetId) -> Message {
    msg(Role::Secondary, PEER, generation, seq, net)
}

#[test]
fn own_echo_is_dropped_as_own() {
    let mut i = intake();
    let echo = msg(Role::Primary, ME, OURS, 5, NetId::Public);
    assert_eq!(i.classify(&echo, NetId::Public, NOW), Outcome::Own(Reject::Own));
    assert_eq!(own(&me(), &echo), Some(Reject::Own));
    assert!(!i.guard().dirty());
}

#[test]
fn own_old_generation_is_ours_never_a_rival() {
    let mut i = intake();
    // Captured before our restart, HOLDING set, replayed after it: any
    // older generation, on either network, many times.
    for generation in [OURS - 1, OURS - (3600 << 20), 1] {
        for net in NetId::ALL {
            let old = msg(Role::Primary, ME, generation, 9, net);
            for _ in 0..3 {
                let out = i.classify(&old, net, NOW);
                assert_eq!(out, Outcome::Own(Reject::OwnOld), "{generation}");
                assert!(!out.acts());
                assert_eq!(out.reject(), Some(Reject::OwnOld));
            }
        }
    }
    // Nothing of it was remembered.
    assert!(!i.guard().dirty());
    assert!(i.guard_mut().floors().is_empty());
    // The same for a secondary: its own old HOLDING status.
    let s = Me { role: Role::Secondary, sender: PEER, generation: OURS, pair: PAIR };
    let mut i = Intake::new(s, Guard::new(Role::Secondary, PEER, &[]));
    let old = msg(Role::Secondary, PEER, OURS - 1, 3, NetId::Private);
    assert_eq!(i.classify(&old, NetId::Private, NOW), Outcome::Own(Reject::OwnOld));
}

#[test]
fn our_sender_id_with_a_higher_generation_is_a_clone_only_within_the_skew() {
    let mut i = intake();
    // Another host with our host name started after us: a rival (younger).
    let clone = msg(Role::Primary, ME, NOW - 10, 1, NetId::Public);
    let out = i.classify(&clone, NetId::Public, NOW);
    assert_eq!(out, Outcome::Rival { flags: Flags(Flags::HOLDING), outranks: false });
    // The same datagram again is not a fresh rival.
    assert_eq!(i.classify(&clone, NetId::Public, NOW), Outcome::Dropped(Reject::Replay));
    // Our own earlier run's, after the state file was lost and the clock
    // set back by more than the skew: its generation is ahead of now.
    let ahead = msg(Role::Primary, ME, NOW + CLONE_SKEW + 1, 1, NetId::Public);
    assert_eq!(i.classify(&ahead, NetId::Public, NOW), Outcome::Dropped(Reject::FutureGeneration));
    let near = msg(Role::Primary, ME, NOW + CLONE_SKEW, 2, NetId::Private);
    assert!(matches!(i.classify(&near, NetId::Private, NOW), Outcome::Rival { .. }));
}

#[test]
fn other_pair_is_dropped_before_anything_else() {
    let mut i = intake();
    let mut m = peer(NOW - 5, 1, NetId::Public);
    m.pair = PAIR + 1;
    assert_eq!(i.classify(&m, NetId::Private, NOW), Outcome::OtherPair(PAIR + 1));
    // Our own old generation under another pair id is not ours either.
    let mut o = msg(Role::Primary, ME, OURS - 1, 1, NetId::Public);
    o.pair = PAIR + 1;
    assert_eq!(i.classify(&o, NetId::Public, NOW), Outcome::OtherPair(PAIR + 1));
    assert!(!i.guard().dirty());
    // A peer from before pair ids is admitted.
    m.pair = pair::UNNAMED;
    assert!(matches!(i.classify(&m, NetId::Public, NOW), Outcome::Peer { .. }));
}

#[test]
fn a_fresh_rival_is_told_and_leaves_the_peer_floors_alone() {
    let mut i = intake();
    // The rank: the lower sender id first, then the older start. (The
    // rivals' guard keeps one stream, as the peer's: a second rival must
    // have started later than the first to be heard.)
    let mut higher = msg(Role::Primary, RIVAL, OURS - 100, 1, NetId::Public);
    higher.flags = Flags(0);
    let out = i.classify(&higher, NetId::Public, NOW);
    assert_eq!(out, Outcome::Rival { flags: Flags(0), outranks: false });
    assert_eq!(out.reject(), Some(Reject::WrongRole));
    assert!(out.acts());
    let lower = msg(Role::Primary, ME - 1, OURS + 100, 1, NetId::Public);
    let out = i.classify(&lower, NetId::Public, NOW);
    assert_eq!(out, Outcome::Rival { flags: Flags(Flags::HOLDING), outranks: true });
    // Neither touched what the state file saves.
    assert!(!i.guard().dirty());
    assert!(i.guard_mut().floors().is_empty());
    // And the peer is still heard as before.
    assert!(matches!(i.classify(&peer(NOW - 5, 1, NetId::Public), NetId::Public, NOW), Outcome::Peer { .. }));
}

#[test]
fn a_replayed_rival_is_not_a_fresh_rival() {
    let mut i = intake();
    let first = msg(Role::Primary, RIVAL, OURS + 50, 10, NetId::Public);
    assert!(matches!(i.classify(&first, NetId::Public, NOW), Outcome::Rival { .. }));
    assert_eq!(i.classify(&first, NetId::Public, NOW), Outcome::Dropped(Reject::Replay));
    let earlier = msg(Role::Primary, RIVAL, OURS + 50, 9, NetId::Public);
    assert_eq!(i.classify(&earlier, NetId::Public, NOW), Outcome::Dropped(Reject::Replay));
    let older = msg(Role::Primary, RIVAL, OURS + 49, 99, NetId::Public);
    assert_eq!(i.classify(&older, NetId::Public, NOW), Outcome::Dropped(Reject::OldGeneration));
    // Its next datagram is fresh.
    let next = msg(Role::Primary, RIVAL, OURS + 50, 11, NetId::Public);
    assert!(matches!(i.classify(&next, NetId::Public, NOW), Outcome::Rival { .. }));
    // A rival's generation from the future is refused like the peer's.
    let future = msg(Role::Primary, RIVAL, NOW + ((2 * 86_400) << 20), 1, NetId::Private);
    assert_eq!(i.classify(&future, NetId::Private, NOW), Outcome::Dropped(Reject::FutureGeneration));
}

#[test]
fn a_rival_without_our_pair_id_is_only_counted() {
    let mut i = intake();
    let mut old_version = msg(Role::Primary, RIVAL, OURS - 100, 1, NetId::Public);
    old_version.pair = pair::UNNAMED;
    assert_eq!(i.classify(&old_version, NetId::Public, NOW), Outcome::Dropped(Reject::WrongRole));
}

#[test]
fn a_replayed_peer_datagram_is_dropped() {
    let mut i = intake();
    let m = peer(NOW - 5, 3, NetId::Public);
    assert!(matches!(i.classify(&m, NetId::Public, NOW), Outcome::Peer { .. }));
    assert_eq!(i.classify(&m, NetId::Public, NOW), Outcome::Dropped(Reject::Replay));
    let old = peer(NOW - 6, 100, NetId::Public);
    assert_eq!(i.classify(&old, NetId::Public, NOW), Outcome::Dropped(Reject::OldGeneration));
}

#[test]
fn a_peer_restart_is_said_once() {
    let mut i = intake();
    let heard = |i: &mut Intake, m: Message| match i.classify(&m, m.net, NOW) {
        Outcome::Peer { heard, restarted } => (heard, restarted),
        other => panic!("{other:?}"),
    };
    let (input, restarted) = heard(&mut i, peer(NOW - 5, 1, NetId::Public));
    assert!(restarted, "the first generation heard");
    assert_eq!(
        input,
        Heard {
            net: NetId::Public,
            kind: Kind::Status,
            flags: Flags(Flags::HOLDING),
            claim: Some(7),
            order: Some((NOW - 5, 1)),
        }
    );
    assert!(!heard(&mut i, peer(NOW - 5, 2, NetId::Private)).1);
    assert!(heard(&mut i, peer(NOW - 1, 1, NetId::Public)).1, "a new generation");
    assert_eq!(i.peer_generation(), Some(NOW - 1));
    assert!(i.guard().dirty());
}

#[test]
fn the_checks_run_in_the_documented_order() {
    let mut i = intake();
    // own before network: our old datagram that also crossed networks.
    let old = msg(Role::Primary, ME, OURS - 1, 1, NetId::Public);
    assert_eq!(i.classify(&old, NetId::Private, NOW), Outcome::Own(Reject::OwnOld));
    // network before the rival's guard: the crossed copy is not kept, so
    // the same datagram on its own network is still fresh.
    let rival = msg(Role::Primary, RIVAL, OURS - 1, 1, NetId::Public);
    assert_eq!(i.classify(&rival, NetId::Private, NOW), Outcome::Dropped(Reject::WrongNetwork));
    assert!(matches!(i.classify(&rival, NetId::Public, NOW), Outcome::Rival { .. }));
    // network before the peer's guard, likewise.
    let p = peer(NOW - 5, 1, NetId::Public);
    assert_eq!(i.classify(&p, NetId::Private, NOW), Outcome::Dropped(Reject::WrongNetwork));
    assert!(!i.guard().dirty());
    assert!(matches!(i.classify(&p, NetId::Public, NOW), Outcome::Peer { .. }));
}

#[test]
fn receive_runs_the_codec_first() {
    let key = Key::new(b"intake test key");
    let mut i = intake();
    let mut buf = [0u8; MAX_LEN];
    let n = codec::encode(&peer(NOW - 5, 1, NetId::Public), Some(&key), &mut buf);
    // Garbage, a truncation, a flipped bit (bad MAC), another key.
    assert_eq!(i.receive(b"hello", Some(&key), NetId::Public, NOW), Outcome::Malformed(Reject::Truncated));
    assert_eq!(i.receive(&[0u8; 40], Some(&key), NetId::Public, NOW), Outcome::Malformed(Reject::BadMagic));
    let mut flipped = buf;
    flipped[9] ^= 1;
    assert_eq!(i.receive(&flipped[..n], Some(&key), NetId::Public, NOW), Outcome::Malformed(Reject::BadMac));
    let other = Key::new(b"another key");
    assert_eq!(i.receive(&buf[..n], Some(&other), NetId::Public, NOW), Outcome::Malformed(Reject::BadMac));
    assert!(!i.guard().dirty());
    // The genuine bytes pass, once.
    assert!(matches!(i.receive(&buf[..n], Some(&key), NetId::Public, NOW), Outcome::Peer { .. }));
    assert_eq!(i.receive(&buf[..n], Some(&key), NetId::Public, NOW), Outcome::Dropped(Reject::Replay));
    // Our own old datagram, signed with the key, is still ours.
    let n = codec::encode(&msg(Role::Primary, ME, OURS - 1, 1, NetId::Public), Some(&key), &mut buf);
    assert_eq!(i.receive(&buf[..n], Some(&key), NetId::Public, NOW), Outcome::Own(Reject::OwnOld));
}

/// The reader's socket filter (`codec::own_pattern`, attached by
/// `sys::net::drop_matching`) drops in the kernel exactly the datagrams the
/// intake calls `own`; `own-old` and a clone's higher generation pass it
/// and are judged by the reader and the monitor, which use `own`.
#[test]
fn the_socket_filter_drops_only_what_the_intake_calls_own() {
    let key = Key::new(b"k");
    let pattern = codec::own_pattern(Role::Primary, ME, OURS);
    let matches = |m: &Message| {
        let mut buf = [0u8; MAX_LEN];
        let n = codec::encode(m, Some(&key), &mut buf);
        pattern.iter().all(|(at, bytes)| buf[..n].get(*at..at + bytes.len()) == Some(&bytes[..]))
    };
    let cases = [
        (msg(Role::Primary, ME, OURS, 5, NetId::Public), Some(Reject::Own)),
        (msg(Role::Primary, ME, OURS - 1, 5, NetId::Private), Some(Reject::OwnOld)),
        (msg(Role::Primary, ME, 1, 5, NetId::Public), Some(Reject::OwnOld)),
        (msg(Role::Primary, ME, OURS + 1, 5, NetId::Public), None),
        (msg(Role::Primary, RIVAL, OURS, 5, NetId::Public), None),
        (msg(Role::Secondary, ME, OURS, 5, NetId::Public), None),
        (peer(OURS, 5, NetId::Public), None),
    ];
    for (m, expected) in cases {
        assert_eq!(own(&me(), &m), expected, "{m:?}");
        assert_eq!(matches(&m), expected == Some(Reject::Own), "the filter on {m:?}");
        let mut i = intake();
        let out = i.classify(&m, m.net, NOW);
        if let Some(r) = expected {
            assert_eq!(out, Outcome::Own(r));
        } else {
            assert!(!matches!(out, Outcome::Own(_)), "{m:?}: {out:?}");
        }
    }
}
