//! Deterministic, short randomized tests of every parser that reads input
//! from outside the daemon, on stable Rust: the same mutations a fuzzer
//! starts with (bit flips, truncations, insertions from a dictionary,
//! deletions, duplications) applied to valid inputs with a fixed-seed
//! xorshift, so a failure reproduces exactly. The long campaigns run with
//! cargo-fuzz in `fuzz/` (see `docs/robustness.md`); these keep the
//! properties checked by `cargo test`.

use ipfailover::cli;
use ipfailover::config::{self, IfName, NetId, Role, SystemView};
use ipfailover::crypto::hmac::Key;
use ipfailover::daemon::{parse_request, Format, Request};
use ipfailover::proto::codec::{self, Flags, Kind, Message, MAX_LEN};
use ipfailover::proto::store;
use ipfailover::proto::{ClaimId, Generation, PairId, SenderId, Seq};
use std::net::IpAddr;

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// One to four fuzzer-style changes to `base`.
fn mutate(rng: &mut Rng, base: &[u8], dict: &[&[u8]]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(at),
            2 => {
                let word = dict[rng.below(dict.len())];
                v.splice(at..at, word.iter().copied());
            }
            3 => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(32)).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

/// eth0 on 198.18.0.0/24, eth1 on 198.19.0.0/24, as in `src/config/tests.rs`.
struct Fake;

impl SystemView for Fake {
    fn interface_for(&self, ip: IpAddr) -> Option<IfName> {
        match ip {
            IpAddr::V4(v) if v.octets()[..3] == [198, 18, 0] => IfName::new("eth0").ok(),
            IpAddr::V4(v) if v.octets()[..3] == [198, 19, 0] => IfName::new("eth1").ok(),
            _ => None,
        }
    }
}

fn random_message(rng: &mut Rng) -> Message {
    let kinds = [Kind::Heartbeat, Kind::Goodbye, Kind::Status, Kind::Claim, Kind::Released];
    Message {
        kind: kinds[rng.below(kinds.len())],
        role: if rng.next() % 2 == 0 { Role::Primary } else { Role::Secondary },
        net: if rng.next() % 2 == 0 { NetId::Public } else { NetId::Private },
        flags: Flags(rng.next() as u16),
        sender: SenderId(rng.next() as u32),
        generation: Generation(rng.next()),
        seq: Seq(rng.next()),
        pair: PairId(rng.next()),
        claim: Some(ClaimId(rng.next())),
    }
}

#[test]
fn codec_never_accepts_a_mutated_signed_datagram() {
    let key = Key::new(b"parsers-random-key-0123456789abcdef");
    let mut rng = Rng(0x0ddb_1a5e_5bad_5eed);
    let dict: &[&[u8]] = &[b"IPFO", b"\x01", b"\x00\x00", b"\x01\x40", b"heartbeat", &[0xff; 8], &[0; 32]];
    for _ in 0..200_000 {
        let msg = random_message(&mut rng);
        let mut buf = [0u8; MAX_LEN];
        let n = codec::encode(&msg, Some(&key), &mut buf);
        let signed = &buf[..n];
        assert_eq!(codec::decode(signed, Some(&key)), Ok(msg));
        let changed = mutate(&mut rng, signed, dict);
        let got = codec::decode(&changed, Some(&key));
        if changed == signed {
            assert_eq!(got, Ok(msg));
        } else {
            assert!(got.is_err(), "accepted {changed:02x?} from {msg:?}");
        }
        let _ = codec::decode(&changed, None);
        let _ = codec::is_legacy(&changed, "heartbeat");
    }
}

#[test]
fn codec_round_trips_without_a_key() {
    let mut rng = Rng(0x1234_5678_9abc_def0);
    for _ in 0..200_000 {
        let msg = random_message(&mut rng);
        let mut buf = [0u8; MAX_LEN];
        let n = codec::encode(&msg, None, &mut buf);
        assert_eq!(codec::decode(&buf[..n], None), Ok(msg));
        let changed = mutate(&mut rng, &buf[..n], &[b"IPFO", b"\x02"]);
        if let Ok(m) = codec::decode(&changed, None) {
            // Unsigned: a change can be accepted, but only as what it says.
            assert_eq!(changed.len(), 32 + usize::from(changed[11]), "{m:?}");
        }
    }
}

/// Every line number an error names exists in the text.
fn parse_config(text: &str) {
    match config::parse(text, "random.conf", &Fake) {
        Ok(cfg) => {
            assert!(cfg.dead_after >= cfg.interval * 2);
            assert_eq!(cfg.networks[0].id, NetId::Public);
            assert_eq!(cfg.networks[1].id, NetId::Private);
        }
        Err(errs) => {
            let lines = text.lines().count();
            for e in errs {
                assert!(e.line <= lines, "{e} (text has {lines} lines)");
                assert_eq!(e.file, "random.conf");
            }
        }
    }
}

#[test]
fn config_and_hostconfig_files_mutated_never_panic() {
    let bases = [
        include_str!("../scripts/examples/primary.conf"),
        include_str!("../scripts/examples/secondary.conf"),
        include_str!("data/hostconfig.primary"),
        include_str!("data/hostconfig.secondary"),
    ];
    for b in bases {
        parse_config(b);
    }
    let dict: &[&[u8]] = &[
        b"\n",
        b" = ",
        b"\"",
        b"'",
        b"#",
        b"FAILOVER_BCAST_IPS=",
        b"FAILOVER_PEER_IP=",
        b"FAILOVER_PEER_IP_PAIRS=",
        b"FAILOVER_EMAIL_RECIPIENT=",
        b"network = public ",
        b"address = ",
        b"en0:198.18.0.10/24",
        b"198.19.0.1",
        b"fd00:18::1",
        b"ff02::1",
        b"/0",
        b"/129",
        b"99999999999999999999s",
        b"0.0005s",
        "\u{e9}".as_bytes(),
        b"\xff",
        b"\0",
    ];
    let mut rng = Rng(0xc0ff_ee00_1694_0001);
    for i in 0..40_000 {
        let base = bases[i % bases.len()].as_bytes();
        let text = mutate(&mut rng, base, dict);
        parse_config(&String::from_utf8_lossy(&text));
    }
}

#[test]
fn control_requests_random() {
    let bases: [&[u8]; 6] =
        [b"status\n", b"status --json\n", b"status --prometheus\n", b"takeover\n", b"release\n", b"reload\n"];
    let dict: &[&[u8]] =
        &[b" ", b"\r", b"\n", b"\t", b"--json", b"--prometheus", b"status", b"\0", "\u{a0}".as_bytes()];
    let mut rng = Rng(0x5eed_0000_0000_c0de);
    for i in 0..200_000 {
        let raw = mutate(&mut rng, bases[i % bases.len()], dict);
        let line = String::from_utf8_lossy(&raw);
        if let Ok(r) = parse_request(&line) {
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            let ok = match r {
                Request::Status(Format::Text) => words == ["status"],
                Request::Status(Format::Json) => words == ["status", "--json"],
                Request::Status(Format::Prometheus) => words == ["status", "--prometheus"],
                Request::Command(_) => words == ["takeover"] || words == ["release"],
                Request::Reload => words == ["reload"],
            };
            assert!(ok, "{line:?} -> {r:?}");
        }
    }
}

fn argv(raw: &[u8]) -> Vec<String> {
    raw.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

#[test]
fn cli_arguments_random() {
    let bases: [&[u8]; 4] = [b"-d\0-f\0/etc/x.conf", b"-dnf/y", b"-f\0/a\0status\0--json", b"release"];
    let dict: &[&[u8]] =
        &[b"\0", b"-", b"-f", b"-s", b"-n", b"-V", b"status", b"reload", b"--json", "\u{e9}".as_bytes()];
    let mut rng = Rng(0x00a1_1a55_e700_0001);
    for i in 0..200_000 {
        let args = argv(&mutate(&mut rng, bases[i % bases.len()], dict));
        if let cli::Parsed::Control { request, .. } = cli::parse(&args) {
            assert!(parse_request(&format!("{request}\n")).is_ok(), "{request:?} from {args:?}");
        }
    }
}

#[test]
fn store_file_random() {
    let base = b"# ipfailoverd replay-defence state; do not edit\ngeneration 1869556338245632\npeer 0a0b0c0d 1869556338249999 1234\n";
    let dict: &[&[u8]] =
        &[b"peer ", b"generation ", b"18446744073709551616", b"ffffffffff", b"+", b"-", b"\n", b" "];
    let mut rng = Rng(0x57a7_e000_0000_0001);
    assert_eq!(store::parse(std::str::from_utf8(base).unwrap()).map(|s| s.peers.len()), Ok(1));
    for _ in 0..200_000 {
        let text = mutate(&mut rng, base, dict);
        if let Err(msg) = store::parse(&String::from_utf8_lossy(&text)) {
            assert!(msg.starts_with("line "), "{msg}");
        }
    }
}
