//! Shared by the fuzz targets: the fake system the configuration parser
//! sees, the checks every accepted configuration must pass, and splitting
//! an input into an argument vector.
#![allow(dead_code)]

use ipfailover::config::{Config, ConfigError, IfName, NetId, SystemView};
use std::net::IpAddr;

/// The same fake system as `src/config/tests.rs`: eth0 on 198.18.0.0/24,
/// eth1 on 198.19.0.0/24, nothing else.
pub struct Fake;

impl SystemView for Fake {
    fn interface_for(&self, ip: IpAddr) -> Option<IfName> {
        match ip {
            IpAddr::V4(v) if v.octets()[..3] == [198, 18, 0] => IfName::new("eth0").ok(),
            IpAddr::V4(v) if v.octets()[..3] == [198, 19, 0] => IfName::new("eth1").ok(),
            _ => None,
        }
    }
}

/// What the rest of the daemon relies on once `config::parse` said yes:
/// ranges checked, networks in their slots, names that fit the kernel,
/// recipients that cannot break a mail header.
pub fn check_accepted(cfg: &Config) {
    assert!(cfg.interval.as_millis() >= 10 && cfg.interval.as_secs() <= 60, "{:?}", cfg.interval);
    assert!(cfg.dead_after >= cfg.interval * 2, "{:?} {:?}", cfg.dead_after, cfg.interval);
    assert!(cfg.port != 0);
    assert_eq!(cfg.networks[0].id, NetId::Public);
    assert_eq!(cfg.networks[1].id, NetId::Private);
    for n in &cfg.networks {
        check_ifname(&n.interface);
    }
    for a in &cfg.addresses {
        check_ifname(&a.interface);
        let max = if a.addr.is_ipv4() { 32 } else { 128 };
        assert!(a.prefix >= 1 && a.prefix <= max, "{a}");
    }
    assert!(!cfg.notify.is_empty());
    for r in &cfg.notify {
        assert!(!r.is_empty() && !r.chars().any(|c| c.is_control() || c.is_whitespace()), "{r:?}");
    }
    let m = &cfg.legacy_message;
    assert!(!m.is_empty() && m.len() <= 64 && !m.chars().any(char::is_control), "{m:?}");
    for p in [&cfg.sendmail, &cfg.scripts_dir, &cfg.pidfile, &cfg.control_socket, &cfg.state_dir] {
        assert!(p.is_absolute(), "{}", p.display());
    }
}

fn check_ifname(i: &IfName) {
    let s = i.as_str();
    assert!(!s.is_empty() && s.len() < ipfailover::config::IFNAMSIZ, "{s:?}");
    assert!(!s.contains(['/', ':']) && !s.chars().any(|c| c.is_whitespace() || c.is_control()), "{s:?}");
}

/// Errors point at a line of the text (or 0) and name the file.
pub fn check_errors(text: &str, file: &str, errs: &[ConfigError]) {
    assert!(!errs.is_empty());
    let lines = text.lines().count();
    for e in errs {
        assert_eq!(e.file, file);
        assert!(e.line <= lines, "line {} of {lines}: {}", e.line, e.message);
    }
}

/// Parses `text` and checks whichever answer comes back.
pub fn parse_and_check(text: &str) {
    match ipfailover::config::parse(text, "fuzz.conf", &Fake) {
        Ok(cfg) => check_accepted(&cfg),
        Err(errs) => check_errors(text, "fuzz.conf", &errs),
    }
}

/// An argument vector: the input split at NUL bytes, which no real
/// argument can contain.
pub fn argv(data: &[u8]) -> Vec<String> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}
