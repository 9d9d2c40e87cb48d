//! Apple's command lines (`heartbeatd`, `failoverd`): the arguments become
//! configuration text, which then goes through the configuration parser.
//! Only root starts the daemon, but an argument must never be able to add
//! a line of its own to that text, and nothing may panic.
#![no_main]

#[path = "common.rs"]
mod common;

use ipfailover::personality::{self, Parsed, Personality};
use libfuzzer_sys::fuzz_target;

/// The keys `personality::parse` writes; anything else is an injection.
const KEYS: [&str; 9] = [
    "FAILOVER_BCAST_IPS",
    "FAILOVER_PEER_IP",
    "FAILOVER_PEER_IP_PAIRS",
    "port",
    "legacy_message",
    "syslog_facility",
    "pidfile",
    "control_socket",
    "state_dir",
];

fuzz_target!(|data: &[u8]| {
    let args = common::argv(data);
    for p in [Personality::Heartbeatd, Personality::Failoverd] {
        let Parsed::Run { text, .. } = personality::parse(p, &args) else { continue };
        for line in text.lines() {
            let key = line.split(" = ").next().unwrap_or("");
            assert!(KEYS.contains(&key), "injected line {line:?} from {args:?}");
        }
        match personality::config(p, &text, &common::Fake) {
            Ok(cfg) => {
                common::check_accepted(&cfg);
                assert!(cfg.command_line);
            }
            Err(errs) => assert!(errs.iter().all(|e| e.line == 0 && e.file == p.name()), "{errs:?}"),
        }
    }
});
