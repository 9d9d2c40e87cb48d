//! The configuration parser (`key = value`): root writes this file, but a
//! typo must never crash the daemon or a SIGHUP reload. Inputs are raw text,
//! or, after a 0xff byte, built from a dictionary of real keys
//! and values so that the fuzzer reaches the converters behind the lexer.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

/// In an input that starts with 0xff (never valid UTF-8, so no loss for
/// the raw half), byte values below `TOKENS.len()` stand for a token,
/// others for themselves (as Latin-1, so any byte gives valid UTF-8).
const TOKENS: &[&str] = &[
    "\n", " = ", " ", "#", "\"", "'", ":", "/", ",", ".",
    "role", "port", "interval", "dead_after", "recover_after", "startup_grace", "network", "peer",
    "address", "mode", "auth_key_file", "legacy_heartbeat", "legacy_message", "notify", "sendmail",
    "scripts_dir", "hook_timeout", "garp_count", "garp_interval", "syslog_facility", "pidfile",
    "control_socket", "state_dir", "failback", "mail_timeout",
    "FAILOVER_BCAST_IPS", "FAILOVER_PEER_IP", "FAILOVER_PEER_IP_PAIRS", "FAILOVER_EMAIL_RECIPIENT",
    "primary", "secondary", "public", "private", "managed", "static", "auto", "manual", "yes", "no",
    "send", "daemon", "local7", "eth0", "eth1", "en0", "198.18.0.255", "198.19.0.255", "198.19.0.1",
    "198.18.0.10", "/24", "/32", "fd00:18::1", "ff02::1", "ff05::1", "/64", "10ms", "1s", "3s",
    "1.5s", "0.0001s", "3600s", "18446744073709551615", "65535", "0", "/etc/ipfailoverd",
    "admin@example.com", "%eth0", "[", "]",
    "role = secondary\nnetwork = public eth0 198.18.0.255\nnetwork = private eth1 198.19.0.255\npeer = 198.19.0.1\naddress = eth0:198.18.0.10/24\n",
    "role = primary\nnetwork = public eth0 198.18.0.255\nnetwork = private eth1 198.19.0.255\naddress = eth0:198.18.0.10/24\n",
];

fn from_tokens(data: &[u8]) -> String {
    let mut text = String::new();
    for &b in data {
        match TOKENS.get(usize::from(b)) {
            Some(t) => text.push_str(t),
            None => text.push(char::from(b)),
        }
    }
    text
}

fuzz_target!(|data: &[u8]| {
    let text = match data.strip_prefix(&[0xff]) {
        Some(rest) => from_tokens(rest),
        None => String::from_utf8_lossy(data).into_owned(),
    };
    common::parse_and_check(&text);
});
