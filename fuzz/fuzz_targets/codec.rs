//! The datagram codec: anyone on either network can send these bytes.
//! `decode` must never panic, with or without a key; a message built from
//! the input must survive encode -> decode unchanged; and no change to an
//! authenticated datagram may be accepted.
#![no_main]

use ipfailover::config::{NetId, Role};
use ipfailover::crypto::hmac::Key;
use ipfailover::proto::codec::{self, Flags, Kind, Message, HEADER_LEN, MAC_LEN, MAX_LEN};
use ipfailover::proto::{ClaimId, Generation, PairId, SenderId, Seq};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"fuzz-key-0123456789abcdef-0123456789";
/// Input bytes a message is built from: every field of the header and body.
const FIELDS: usize = 41;

fn message(b: &[u8; FIELDS]) -> Message {
    let kinds = [Kind::Heartbeat, Kind::Goodbye, Kind::Status, Kind::Claim, Kind::Released];
    let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().unwrap());
    Message {
        kind: kinds[usize::from(b[0]) % kinds.len()],
        role: if b[1] & 1 == 0 { Role::Primary } else { Role::Secondary },
        net: if b[2] & 1 == 0 { NetId::Public } else { NetId::Private },
        flags: Flags(u16::from_be_bytes([b[3], b[4]])),
        sender: SenderId(u32::from_be_bytes([b[5], b[6], b[7], b[8]])),
        generation: Generation(u64_at(9)),
        seq: Seq(u64_at(17)),
        pair: PairId(u64_at(25)),
        claim: Some(ClaimId(u64_at(33))),
    }
}

fuzz_target!(|data: &[u8]| {
    let key = Key::new(KEY);
    // 1. Raw bytes from the network.
    let plain = codec::decode(data, None);
    if let Ok(m) = plain {
        // Accepted without a key: exactly a header plus the announced body.
        assert_eq!(data.len(), HEADER_LEN + usize::from(data[11]), "{m:?}");
    }
    if codec::decode(data, Some(&key)).is_ok() {
        // Only possible with the MAC of the key over everything before it.
        let (signed, mac) = data.split_at(data.len() - MAC_LEN);
        assert_eq!(key.mac(signed)[..], mac[..]);
    }
    let _ = codec::is_legacy(data, "heartbeat");
    if let Some((&n, rest)) = data.split_first() {
        let text = String::from_utf8_lossy(&rest[..usize::from(n).min(rest.len())]);
        let _ = codec::is_legacy(rest, &text);
    }

    // 2. Round trip of a message built from the input.
    let mut fields = [0u8; FIELDS];
    let n = data.len().min(FIELDS);
    fields[..n].copy_from_slice(&data[..n]);
    let msg = message(&fields);
    let mut buf = [0u8; MAX_LEN];
    let len = codec::encode(&msg, None, &mut buf);
    assert_eq!(codec::decode(&buf[..len], None), Ok(msg));
    let len = codec::encode(&msg, Some(&key), &mut buf);
    let signed = &buf[..len];
    assert_eq!(codec::decode(signed, Some(&key)), Ok(msg));
    assert!(codec::decode(signed, None).is_err());
    assert!(codec::decode(signed, Some(&Key::new(b"another-key-0123456789"))).is_err());

    // 3. Mutations of the signed datagram, driven by the rest of the input:
    // (position, xor mask) pairs, then one truncation.
    let rest = &data[n..];
    let mut mutated = signed.to_vec();
    for pair in rest.chunks_exact(2) {
        let at = usize::from(pair[0]) % mutated.len();
        mutated[at] ^= pair[1];
    }
    if mutated != signed {
        assert!(codec::decode(&mutated, Some(&key)).is_err(), "accepted a changed datagram: {mutated:02x?}");
    }
    if let Some(&cut) = rest.last() {
        let cut = usize::from(cut) % signed.len();
        assert!(codec::decode(&signed[..cut], Some(&key)).is_err());
        let mut longer = signed.to_vec();
        longer.extend_from_slice(&rest[..rest.len().min(8)]);
        assert!(codec::decode(&longer, Some(&key)).is_err());
    }
});
