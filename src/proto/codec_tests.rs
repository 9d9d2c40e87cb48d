use super::*;

fn key() -> Key {
    Key::new(b"0123456789abcdef0123456789abcdef")
}

fn sample() -> Message {
    Message {
        kind: Kind::Heartbeat,
        role: Role::Primary,
        net: NetId::Private,
        flags: Flags(Flags::HOLDING | Flags::PUBLIC_UP),
        sender: crate::proto::SenderId(0x0102_0304),
        generation: crate::proto::Generation(0x1122_3344_5566_7788),
        seq: crate::proto::Seq(42),
        pair: crate::proto::PairId(0x1020_3040_5060_7080),
        claim: Some(crate::proto::ClaimId(0x0a0b_0c0d)),
    }
}

fn encoded(key: Option<&Key>) -> Vec<u8> {
    let mut buf = [0u8; MAX_LEN];
    let n = encode(&sample(), key, &mut buf);
    buf[..n].to_vec()
}

#[test]
fn layout_matches_protocol_md() {
    let b = encoded(Some(&key()));
    assert_eq!(b.len(), 80);
    assert_eq!(&b[0..4], b"IPFO");
    assert_eq!(b[4], 1); // version
    assert_eq!(b[5], 1); // heartbeat
    assert_eq!(b[6], 1); // primary
    assert_eq!(b[7], 1); // private
    assert_eq!(&b[8..10], &[0, 3]); // HOLDING | PUBLIC_UP
    assert_eq!(b[10], 1); // auth
    assert_eq!(b[11], 16); // body length
    assert_eq!(&b[12..16], &[1, 2, 3, 4]);
    assert_eq!(&b[16..24], &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    assert_eq!(&b[24..32], &[0, 0, 0, 0, 0, 0, 0, 42]);
    assert_eq!(&b[32..40], &[0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80]); // pair id
    assert_eq!(&b[40..48], &[0, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0x0d]); // claim id
    assert_eq!(&b[48..], &key().mac(&b[..48])[..]);
    assert_eq!(encoded(None).len(), 48);
}

/// A peer that predates claim and pair ids sends an empty body: accepted,
/// with no claim id and the unnamed pair. A body too short to hold this
/// version's fields is malformed.
#[test]
fn empty_body_is_an_older_peer_and_a_short_body_is_refused() {
    let k = key();
    let b = encoded(Some(&k));
    let mut old = b[..32].to_vec();
    old[11] = 0;
    let mac = k.mac(&old);
    old.extend_from_slice(&mac);
    let m = decode(&old, Some(&k)).unwrap();
    assert_eq!(m, Message { claim: None, pair: crate::proto::pair::UNNAMED, ..sample() });
    let mut short = b[..40].to_vec();
    short[11] = 8;
    let mac = k.mac(&short);
    short.extend_from_slice(&mac);
    assert_eq!(decode(&short, Some(&k)), Err(Reject::BadField));
}

#[test]
fn round_trip_with_and_without_key() {
    let k = key();
    assert_eq!(decode(&encoded(Some(&k)), Some(&k)), Ok(sample()));
    assert_eq!(decode(&encoded(None), None), Ok(sample()));
    for kind in [Kind::Goodbye, Kind::Status, Kind::Claim, Kind::Released] {
        let mut m = sample();
        m.kind = kind;
        m.role = Role::Secondary;
        m.net = NetId::Public;
        let mut buf = [0u8; MAX_LEN];
        let n = encode(&m, Some(&k), &mut buf);
        assert_eq!(decode(&buf[..n], Some(&k)), Ok(m));
    }
}

/// The pair id is covered by the MAC: another pair's id cannot be written
/// over ours without the key. `other-pair` has its name and counter.
#[test]
fn pair_id_is_authenticated_and_other_pair_has_a_name() {
    let k = key();
    let mut b = encoded(Some(&k));
    b[32..40].copy_from_slice(&crate::proto::pair::id("web").0.to_be_bytes());
    assert_eq!(decode(&b, Some(&k)), Err(Reject::BadMac));
    let m = Message { pair: crate::proto::pair::id("web"), ..sample() };
    let mut buf = [0u8; MAX_LEN];
    let n = encode(&m, Some(&k), &mut buf);
    assert_eq!(decode(&buf[..n], Some(&k)).map(|m| m.pair), Ok(crate::proto::pair::id("web")));
    assert_eq!(Reject::OtherPair.as_str(), "other-pair");
    assert!(Reject::ALL.contains(&Reject::OtherPair));
    assert!(!Reject::OtherPair.is_auth_failure(), "reported on its own, not as a forgery");
    let names: std::collections::BTreeSet<&str> = Reject::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names.len(), Reject::ALL.len(), "every reason has its own name");
}

#[test]
fn every_truncation_is_rejected() {
    let k = key();
    let b = encoded(Some(&k));
    for len in 0..b.len() {
        assert_eq!(decode(&b[..len], Some(&k)), Err(Reject::Truncated), "len {len}");
    }
    let mut long = b.clone();
    long.push(0);
    assert_eq!(decode(&long, Some(&k)), Err(Reject::Oversized));
}

#[test]
fn every_bit_flip_is_rejected() {
    let k = key();
    let b = encoded(Some(&k));
    for i in 0..b.len() * 8 {
        let mut f = b.clone();
        f[i / 8] ^= 1 << (i % 8);
        assert!(decode(&f, Some(&k)).is_err(), "bit {i} flipped was accepted");
    }
}

#[test]
fn auth_mismatches() {
    let k = key();
    assert_eq!(decode(&encoded(None), Some(&k)), Err(Reject::Unauthenticated));
    assert_eq!(decode(&encoded(Some(&k)), None), Err(Reject::UnexpectedMac));
    let other = Key::new(b"another key entirely, 32 bytes..");
    assert_eq!(decode(&encoded(Some(&other)), Some(&k)), Err(Reject::BadMac));
}

#[test]
fn header_checks_come_first() {
    let k = key();
    let mut b = encoded(Some(&k));
    b[0] = b'X';
    assert_eq!(decode(&b, Some(&k)), Err(Reject::BadMagic));
    let mut b = encoded(Some(&k));
    b[4] = 2;
    assert_eq!(decode(&b, Some(&k)), Err(Reject::BadVersion));
    // Unknown type with a valid MAC: a field error, not a MAC error.
    let mut b = encoded(None);
    b[5] = 9;
    assert_eq!(decode(&b, None), Err(Reject::BadField));
    let mut b = encoded(None);
    b[11] = 200;
    assert_eq!(decode(&b, None), Err(Reject::BadField));
}

#[test]
fn random_input_never_panics() {
    let k = key();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = encoded(Some(&k));
    for _ in 0..20_000 {
        let len = (next() % 200) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if next() % 2 == 0 {
            // Mostly-valid prefix so deeper checks get exercised.
            let n = buf.len().min(valid.len());
            buf[..n].copy_from_slice(&valid[..n]);
            if n > 0 {
                let i = (next() as usize) % n;
                buf[i] ^= next() as u8 | 1;
            }
        }
        let _ = decode(&buf, Some(&k));
        let _ = decode(&buf, None);
    }
}

#[test]
fn legacy_text() {
    assert!(is_legacy(b"heartbeat", "heartbeat"));
    assert!(is_legacy(b"heartbeat\0", "heartbeat"));
    assert!(is_legacy(b"heartbeat\n", "heartbeat"));
    assert!(!is_legacy(b"heartbeat\n\n", "heartbeat"));
    assert!(!is_legacy(b"heartbeats", "heartbeat"));
    assert!(!is_legacy(b"", ""));
}
