//! The one table of configuration keys: for each key its name, its
//! default, its converter and whether a reload may change it. The parser
//! (which keys exist, what an absent one means), the "unknown key" error,
//! the restart check of SIGHUP and `scripts/check-docs` (against
//! ipfailoverd.conf.5) all read this table; a key added here is known to
//! each of them at once.

use super::service_checks::{self, Which};
use super::values::{self, choice, duration_in, number, path, IfName};
use super::{Config, Failback, Legacy, Mode, NetId, Network, Role, ServiceAddr};
use std::net::IpAddr;
use std::time::Duration;

/// Whether SIGHUP may change a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reload {
    /// The reloaded value is in force at once.
    Live,
    /// Sockets, threads or files set up at start depend on it: a reload
    /// that changes it is refused and the running configuration stays.
    Restart,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Count {
    /// Given twice, an error.
    Once,
    /// Each line adds an entry.
    Many,
}

/// What is wrong with one value.
#[derive(Debug)]
pub(super) enum Problem {
    /// Said after the key's name: `port: "x" must be a number ...`.
    Value(String),
    /// Several of those on one line (a list with more than one bad item).
    Values(Vec<String>),
    /// Said as it is: `network public is already defined on line 2`.
    Plain(String),
}

impl From<String> for Problem {
    fn from(s: String) -> Problem {
        Problem::Value(s)
    }
}

pub(super) struct Key {
    pub name: &'static str,
    pub reload: Reload,
    pub count: Count,
    /// What an absent key means, written as in the file and converted like
    /// a value from it. `None`: nothing (the key is required, or optional
    /// and then unset).
    pub default: Option<&'static str>,
    /// Converts one value (from `line`, 0 for the default) and stores it
    /// in the configuration being built.
    pub convert: fn(&mut Config, &str, usize) -> Result<(), Problem>,
    /// Whether two configurations mean the same for this key. Positions
    /// are never part of it: they live in `Config::lines`.
    pub same: fn(&Config, &Config) -> bool,
}

/// A single-valued key kept in the `Config` field of the same name, so
/// that the name cannot drift from the field it sets and compares.
macro_rules! once {
    ($field:ident, $reload:ident, $default:expr, $convert:expr) => {
        Key {
            name: stringify!($field),
            reload: Reload::$reload,
            count: Count::Once,
            default: $default,
            convert: |c, v, _| {
                c.$field = ($convert)(v)?;
                Ok(())
            },
            same: |a, b| a.$field == b.$field,
        }
    };
}

/// A repeatable key: its converter adds one entry.
macro_rules! many {
    ($name:ident, $reload:ident, $default:expr, $convert:expr, $same:expr) => {
        Key {
            name: stringify!($name),
            reload: Reload::$reload,
            count: Count::Many,
            default: $default,
            convert: $convert,
            same: $same,
        }
    };
}

const ROLES: &[(&str, Role)] = &[("primary", Role::Primary), ("secondary", Role::Secondary)];
const MODES: &[(&str, Mode)] = &[("managed", Mode::Managed), ("static", Mode::Static)];
const LEGACY: &[(&str, Legacy)] = &[
    ("no", Legacy::No),
    ("yes", Legacy::Yes),
    ("yes-unauthenticated", Legacy::YesUnauthenticated),
    ("send", Legacy::Send),
];
const YES_NO: &[(&str, bool)] = &[("yes", true), ("no", false)];
const FAILBACK: &[(&str, Failback)] = &[("auto", Failback::Auto), ("manual", Failback::Manual)];
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

// One key per row, `once!(name, reload, ...` or `many!(name, reload, ...`
// at its start: scripts/check-docs reads the names and reload classes
// from there. Keep each row on one line.
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    once!(role, Restart, None, |v| choice(v, ROLES)),
    once!(port, Restart, Some("1694"), |v| number(v, 1u16, 65535)),
    once!(interval, Live, Some("1s"), |v| duration_in(v, ms(10), s(60))),
    once!(dead_after, Live, Some("3s"), |v| duration_in(v, ms(20), s(3600))),
    once!(recover_after, Live, Some("3s"), |v| duration_in(v, s(0), s(3600))),
    once!(startup_grace, Live, Some("0s"), |v| duration_in(v, s(0), s(3600))),
    once!(takeover_probe, Live, Some("auto"), |v| if v == "auto" { Ok(None) } else { duration_in(v, s(0), s(1)).map(Some) }),
    many!(network, Restart, None, network, |a, b| a.networks == b.networks),
    once!(peer, Restart, None, |v| values::ip(v).map(Some)),
    many!(address, Live, None, address, |a, b| a.addresses == b.addresses),
    many!(outside_subnet, Live, None, outside_subnet, |a, b| a.outside_subnet == b.outside_subnet),
    once!(mode, Restart, Some("managed"), |v| choice(v, MODES)),
    once!(auth_key_file, Restart, None, |v| path(v).map(Some)),
    once!(legacy_heartbeat, Restart, Some("no"), |v| choice(v, LEGACY)),
    once!(legacy_message, Restart, Some("heartbeat"), legacy_message),
    many!(notify, Live, Some("root"), notify, |a, b| a.notify == b.notify),
    once!(sendmail, Live, Some("/usr/sbin/sendmail"), path),
    once!(scripts_dir, Live, Some("/etc/ipfailoverd"), path),
    once!(hook_timeout, Live, Some("30s"), |v| duration_in(v, s(1), s(3600))),
    once!(garp_count, Live, Some("3"), |v| number(v, 0u32, 100)),
    once!(garp_interval, Live, Some("100ms"), |v| duration_in(v, ms(10), s(10))),
    once!(syslog_facility, Restart, Some("daemon"), syslog_facility),
    once!(pidfile, Restart, Some("/run/ipfailoverd.pid"), path),
    once!(control_socket, Restart, Some("/run/ipfailoverd.sock"), path),
    once!(state_dir, Restart, Some("/var/lib/ipfailoverd"), path),
    once!(failback, Live, Some("auto"), |v| choice(v, FAILBACK)),
    once!(mail_timeout, Live, Some("30s"), |v| duration_in(v, s(1), s(3600))),
    once!(mail_min_interval, Live, Some("600s"), |v| duration_in(v, s(0), s(86400))),
    once!(pair, Restart, None, |v| super::pair::name(v).map(Some)),
    many!(check, Live, None, service_checks::check, |a, b| a.checks == b.checks),
    many!(check_interval, Live, None, |c, v, l| service_checks::timing(Which::Interval, c, v, l), |a, b| a.check_interval == b.check_interval),
    many!(check_timeout, Live, None, |c, v, l| service_checks::timing(Which::Timeout, c, v, l), |a, b| a.check_timeout == b.check_timeout),
    many!(check_fall, Live, None, |c, v, l| service_checks::timing(Which::Fall, c, v, l), |a, b| a.check_fall == b.check_fall),
    many!(check_rise, Live, None, |c, v, l| service_checks::timing(Which::Rise, c, v, l), |a, b| a.check_rise == b.check_rise),
    once!(check_gates_takeover, Live, Some("yes"), |v| choice(v, YES_NO)),
    once!(metrics_listen, Restart, None, |v| values::listen(v).map(Some)),
    once!(interface_wait, Restart, Some("60s"), |v| duration_in(v, s(0), s(3600))),
];

pub(super) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The first restart-only key whose meaning differs between `old` and
/// `new`, in table order.
pub(super) fn restart_needed(old: &Config, new: &Config) -> Option<&'static str> {
    KEYS.iter().find(|k| k.reload == Reload::Restart && !(k.same)(old, new)).map(|k| k.name)
}

fn legacy_message(v: &str) -> Result<String, String> {
    if v.is_empty() || v.len() > 64 || v.chars().any(|c| c.is_control()) {
        Err("must be 1 to 64 printable characters".to_string())
    } else {
        Ok(v.to_string())
    }
}

fn syslog_facility(v: &str) -> Result<String, String> {
    if values::FACILITIES.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(format!("unknown facility {v:?} (one of {})", values::FACILITIES.join(", ")))
    }
}

/// `network = <public|private> <interface> <destination>`.
fn network(c: &mut Config, v: &str, line: usize) -> Result<(), Problem> {
    let words: Vec<&str> = v.split_whitespace().collect();
    let [name, ifname, dest] = words[..] else {
        let usage = "expected 'network = <public|private> <interface> <destination address>'";
        return Err(Problem::Value(usage.to_string()));
    };
    let id = match name {
        "public" => NetId::Public,
        "private" => NetId::Private,
        _ => return Err(Problem::Value(format!("name {name:?} must be public or private"))),
    };
    let (interface, dest) = match (IfName::new(ifname), values::ip(dest)) {
        (Ok(i), Ok(d)) => (i, d),
        (i, d) => return Err(Problem::Values(i.err().into_iter().chain(d.err()).collect())),
    };
    if let IpAddr::V6(v6) = dest {
        if v6.is_multicast() && v6.segments()[0] & 0xff0f != 0xff02 {
            return Err(Problem::Value(format!("{v6} is not a link-scoped multicast group (ff02::/16)")));
        }
    }
    let first = c.lines.networks[id.index()];
    if first != 0 {
        return Err(Problem::Plain(format!("network {name} is already defined on line {first}")));
    }
    c.networks[id.index()] = Network { id, interface, dest };
    c.lines.networks[id.index()] = line;
    Ok(())
}

/// `address = <interface>:<address>[/<prefix>]`.
fn address(c: &mut Config, v: &str, line: usize) -> Result<(), Problem> {
    let (interface, addr, prefix) = values::service_addr(v)?;
    if let Some(i) = c.addresses.iter().position(|a| a.addr == addr) {
        let first = c.line_of_address(i);
        return Err(Problem::Plain(format!("address {addr} is already listed on line {first}")));
    }
    c.addresses.push(ServiceAddr { interface, addr, prefix });
    c.lines.addresses.push(line);
    Ok(())
}

/// `outside_subnet = <address>[, <address>...]`: service addresses the
/// operator says are meant to lie outside every subnet of their interface
/// (a router delivers them to this LAN). Each must be listed by an
/// `address` line, which the table converts first.
fn outside_subnet(c: &mut Config, v: &str, _line: usize) -> Result<(), Problem> {
    let mut bad = Vec::new();
    let words: Vec<&str> = v.split([',', ' ', '\t']).filter(|s| !s.is_empty()).collect();
    if words.is_empty() {
        bad.push("expected one or more service addresses".to_string());
    }
    for w in words {
        match values::ip(w) {
            Ok(ip) if c.addresses.iter().any(|a| a.addr == ip) => {
                if !c.outside_subnet.contains(&ip) {
                    c.outside_subnet.push(ip);
                }
            }
            Ok(ip) => bad.push(format!("{ip} is not a service address (no address line names it)")),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Problem::Values(bad))
    }
}

/// `notify = <address>[, <address>...]`.
fn notify(c: &mut Config, v: &str, _line: usize) -> Result<(), Problem> {
    let mut bad = Vec::new();
    for r in v.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
        match values::recipient(r) {
            Ok(r) => c.notify.push(r),
            Err(e) => bad.push(e),
        }
    }
    if v.split([',', ' ', '\t']).all(str::is_empty) {
        bad.push("empty mail recipient".to_string());
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Problem::Values(bad))
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
