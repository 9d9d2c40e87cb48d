//! From text to `Config`: lines become raw (line, value) entries, Apple's
//! keys are mapped onto the same entries, then every entry is converted to
//! its type with its range checked. All problems are collected.

use super::values::{self, IfName};
use super::{Config, ConfigError, Failback, Legacy, Mode, NetId, Network, Role, ServiceAddr, SystemView};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

const SINGLE: [&str; 22] = [
    "role",
    "port",
    "interval",
    "dead_after",
    "recover_after",
    "startup_grace",
    "peer",
    "mode",
    "auth_key_file",
    "legacy_heartbeat",
    "legacy_message",
    "sendmail",
    "scripts_dir",
    "hook_timeout",
    "garp_count",
    "garp_interval",
    "syslog_facility",
    "pidfile",
    "control_socket",
    "state_dir",
    "failback",
    "mail_timeout",
];
const REPEATED: [&str; 3] = ["network", "address", "notify"];

/// Raw entries, before conversion.
#[derive(Default)]
pub(super) struct Raw {
    pub single: BTreeMap<&'static str, (usize, String)>,
    pub repeated: BTreeMap<&'static str, Vec<(usize, String)>>,
    pub apple: Vec<(usize, String, String)>,
    pub upper: Vec<(usize, String)>,
}

pub(super) struct Errors {
    pub file: String,
    pub list: Vec<ConfigError>,
}

impl Errors {
    pub fn at(&mut self, line: usize, message: impl Into<String>) {
        self.list.push(ConfigError { file: self.file.clone(), line, message: message.into() });
    }
}

impl Raw {
    /// Sets a single-valued key, or reports the earlier line.
    pub fn set(&mut self, key: &'static str, line: usize, value: String, errs: &mut Errors) {
        if let Some((first, _)) = self.single.get(key) {
            errs.at(line, format!("{key} is already set on line {first}"));
        } else {
            self.single.insert(key, (line, value));
        }
    }
}

/// Removes a trailing comment: `#` at the start or after white space,
/// outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev_space => return &line[..i],
            None => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

fn unquote(v: &str) -> Result<&str, String> {
    for q in ['"', '\''] {
        if let Some(rest) = v.strip_prefix(q) {
            return rest.strip_suffix(q).ok_or_else(|| format!("unterminated quote in {v:?}"));
        }
    }
    Ok(v)
}

fn lex(text: &str, errs: &mut Errors) -> Raw {
    let mut raw = Raw::default();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = strip_comment(line).trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            errs.at(line_no, format!("expected 'key = value', found {line:?}"));
            continue;
        };
        let key = key.trim();
        let value = match unquote(value.trim()) {
            Ok(v) => v.to_string(),
            Err(e) => {
                errs.at(line_no, e);
                continue;
            }
        };
        if let Some(k) = SINGLE.iter().find(|k| **k == key) {
            raw.set(k, line_no, value, errs);
        } else if let Some(k) = REPEATED.iter().find(|k| **k == key) {
            raw.repeated.entry(k).or_default().push((line_no, value));
        } else if key.starts_with("FAILOVER_") {
            raw.apple.push((line_no, key.to_string(), value));
        } else if !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            raw.upper.push((line_no, key.to_string()));
        } else {
            errs.at(line_no, format!("unknown key {key:?}"));
        }
    }
    raw
}

pub(super) fn parse(text: &str, file: &str, sys: &dyn SystemView) -> Result<Config, Vec<ConfigError>> {
    let mut errs = Errors { file: file.to_string(), list: Vec::new() };
    let mut raw = lex(text, &mut errs);
    let ignored = if raw.apple.is_empty() {
        for (line, key) in &raw.upper {
            errs.at(*line, format!("unknown key {key:?}"));
        }
        Vec::new()
    } else {
        std::mem::take(&mut raw.upper)
    };
    super::apple::map(&mut raw, sys, &mut errs);
    let cfg = build(&raw, &mut errs, file, ignored);
    match cfg {
        Some(c) if errs.list.is_empty() => Ok(c),
        _ => {
            errs.list.sort_by_key(|e| e.line);
            Err(errs.list)
        }
    }
}

/// Converts one single-valued key, or returns the default.
fn get<T>(
    raw: &Raw,
    errs: &mut Errors,
    key: &str,
    default: T,
    conv: impl Fn(&str) -> Result<T, String>,
) -> T {
    match raw.single.get(key) {
        None => default,
        Some((line, v)) => conv(v).unwrap_or_else(|e| {
            errs.at(*line, format!("{key}: {e}"));
            default
        }),
    }
}

fn ranged(min: Duration, max: Duration) -> impl Fn(&str) -> Result<Duration, String> {
    move |s| {
        let d = values::duration(s)?;
        if d < min || d > max {
            return Err(format!("{s} is out of range ({:?} to {:?})", min, max));
        }
        Ok(d)
    }
}

fn path(s: &str) -> Result<PathBuf, String> {
    if s.starts_with('/') {
        Ok(PathBuf::from(s))
    } else {
        Err(format!("{s:?} must be an absolute path"))
    }
}

fn choice<T: Copy>(options: &'static [(&'static str, T)]) -> impl Fn(&str) -> Result<T, String> {
    move |s| {
        options.iter().find(|(n, _)| *n == s).map(|(_, v)| *v).ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            format!("{s:?} is not one of {}", names.join(", "))
        })
    }
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    min: T,
    max: T,
) -> impl Fn(&str) -> Result<T, String> {
    move |s| match s.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("{s:?} must be a number from {min} to {max}")),
    }
}

fn build(raw: &Raw, errs: &mut Errors, file: &str, ignored_keys: Vec<(usize, String)>) -> Option<Config> {
    let s = Duration::from_secs;
    let ms = Duration::from_millis;
    let role = get(raw, errs, "role", None, |v| {
        choice(&[("primary", Role::Primary), ("secondary", Role::Secondary)])(v).map(Some)
    });
    let interval = get(raw, errs, "interval", s(1), ranged(ms(10), s(60)));
    let dead_after = get(raw, errs, "dead_after", s(3), ranged(ms(20), s(3600)));
    if dead_after < interval * 2 {
        let line = raw.single.get("dead_after").or(raw.single.get("interval")).map_or(0, |e| e.0);
        errs.at(line, format!("dead_after ({dead_after:?}) must be at least twice interval ({interval:?})"));
    }
    let mut cfg_lines = BTreeMap::new();
    for (k, (line, _)) in &raw.single {
        cfg_lines.insert(k.to_string(), *line);
    }
    let networks = networks(raw, errs);
    let addresses = addresses(raw, errs);
    let notify = notify(raw, errs);
    let peer = get(raw, errs, "peer", None, |v| values::ip(v).map(Some));
    let mode = get(
        raw,
        errs,
        "mode",
        Mode::Managed,
        choice(&[("managed", Mode::Managed), ("static", Mode::Static)]),
    );
    let Some(role) = role else {
        if !raw.single.contains_key("role") {
            errs.at(0, "missing key role (primary or secondary)");
        }
        return None;
    };
    if role == Role::Secondary && peer.is_none() && !raw.single.contains_key("peer") {
        errs.at(0, "missing key peer (the primary's address on the private network)");
    }
    let needs_addr = role == Role::Secondary || mode == Mode::Managed;
    if needs_addr && addresses.is_empty() && !raw.repeated.contains_key("address") {
        errs.at(0, "missing key address (at least one service address, e.g. address = eth0:198.18.0.10/24)");
    }
    let cfg = Config {
        file: file.to_string(),
        role,
        port: get(raw, errs, "port", 1694, number(1u16, 65535)),
        interval,
        dead_after,
        recover_after: get(raw, errs, "recover_after", s(3), ranged(s(0), s(3600))),
        startup_grace: get(raw, errs, "startup_grace", s(0), ranged(s(0), s(3600))),
        networks: networks?,
        peer,
        addresses,
        mode,
        auth_key_file: get(raw, errs, "auth_key_file", None, |v| path(v).map(Some)),
        legacy_heartbeat: get(
            raw,
            errs,
            "legacy_heartbeat",
            Legacy::No,
            choice(&[("no", Legacy::No), ("yes", Legacy::Yes), ("send", Legacy::Send)]),
        ),
        legacy_message: get(raw, errs, "legacy_message", "heartbeat".to_string(), |v| {
            if v.is_empty() || v.len() > 64 || v.chars().any(|c| c.is_control()) {
                Err("must be 1 to 64 printable characters".to_string())
            } else {
                Ok(v.to_string())
            }
        }),
        notify,
        sendmail: get(raw, errs, "sendmail", PathBuf::from("/usr/sbin/sendmail"), path),
        scripts_dir: get(raw, errs, "scripts_dir", PathBuf::from("/etc/ipfailoverd"), path),
        hook_timeout: get(raw, errs, "hook_timeout", s(30), ranged(s(1), s(3600))),
        garp_count: get(raw, errs, "garp_count", 3, number(0u32, 100)),
        garp_interval: get(raw, errs, "garp_interval", ms(100), ranged(ms(10), s(10))),
        syslog_facility: get(raw, errs, "syslog_facility", "daemon".to_string(), |v| {
            if values::FACILITIES.contains(&v) {
                Ok(v.to_string())
            } else {
                Err(format!("unknown facility {v:?} (one of {})", values::FACILITIES.join(", ")))
            }
        }),
        pidfile: get(raw, errs, "pidfile", PathBuf::from("/run/ipfailoverd.pid"), path),
        control_socket: get(raw, errs, "control_socket", PathBuf::from("/run/ipfailoverd.sock"), path),
        state_dir: get(raw, errs, "state_dir", PathBuf::from("/var/lib/ipfailoverd"), path),
        failback: get(
            raw,
            errs,
            "failback",
            Failback::Auto,
            choice(&[("auto", Failback::Auto), ("manual", Failback::Manual)]),
        ),
        mail_timeout: get(raw, errs, "mail_timeout", s(30), ranged(s(1), s(3600))),
        ignored_keys,
        lines: cfg_lines,
        command_line: false,
    };
    Some(cfg)
}

fn networks(raw: &Raw, errs: &mut Errors) -> Option<[Network; 2]> {
    let mut found: [Option<Network>; 2] = [None, None];
    for (line, v) in raw.repeated.get("network").into_iter().flatten() {
        let words: Vec<&str> = v.split_whitespace().collect();
        let [name, ifname, dest] = words[..] else {
            errs.at(
                *line,
                "network: expected 'network = <public|private> <interface> <destination address>'",
            );
            continue;
        };
        let id = match name {
            "public" => NetId::Public,
            "private" => NetId::Private,
            _ => {
                errs.at(*line, format!("network: name {name:?} must be public or private"));
                continue;
            }
        };
        let interface = IfName::new(ifname).map_err(|e| errs.at(*line, format!("network: {e}")));
        let dest = values::ip(dest).map_err(|e| errs.at(*line, format!("network: {e}")));
        let (Ok(interface), Ok(dest)) = (interface, dest) else {
            continue;
        };
        if let IpAddr::V6(v6) = dest {
            if v6.is_multicast() && v6.segments()[0] & 0xff0f != 0xff02 {
                errs.at(*line, format!("network: {v6} is not a link-scoped multicast group (ff02::/16)"));
                continue;
            }
        }
        let slot = &mut found[id.index()];
        if let Some(first) = slot {
            errs.at(*line, format!("network {name} is already defined on line {}", first.line));
            continue;
        }
        *slot = Some(Network { id, interface, dest, line: *line });
    }
    let mut missing = false;
    for id in NetId::ALL {
        if found[id.index()].is_none()
            && !raw
                .repeated
                .get("network")
                .is_some_and(|v| v.iter().any(|(_, s)| s.split_whitespace().next() == Some(id.as_str())))
        {
            errs.at(
                0,
                format!(
                    "missing key network for the {} network (network = {} <interface> <destination>)",
                    id.as_str(),
                    id.as_str()
                ),
            );
            missing = true;
        }
    }
    let [public, private] = found;
    if missing {
        return None;
    }
    Some([public?, private?])
}

fn addresses(raw: &Raw, errs: &mut Errors) -> Vec<ServiceAddr> {
    let mut out: Vec<ServiceAddr> = Vec::new();
    for (line, v) in raw.repeated.get("address").into_iter().flatten() {
        match values::service_addr(v) {
            Ok((interface, addr, prefix)) => {
                if let Some(first) = out.iter().find(|a| a.addr == addr) {
                    errs.at(*line, format!("address {addr} is already listed on line {}", first.line));
                    continue;
                }
                out.push(ServiceAddr { interface, addr, prefix, line: *line });
            }
            Err(e) => errs.at(*line, format!("address: {e}")),
        }
    }
    out
}

fn notify(raw: &Raw, errs: &mut Errors) -> Vec<String> {
    let mut out = Vec::new();
    for (line, v) in raw.repeated.get("notify").into_iter().flatten() {
        for r in v.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
            match values::recipient(r) {
                Ok(r) => out.push(r),
                Err(e) => errs.at(*line, format!("notify: {e}")),
            }
        }
        if v.split([',', ' ', '\t']).all(str::is_empty) {
            errs.at(*line, "notify: empty mail recipient");
        }
    }
    if out.is_empty() && !raw.repeated.contains_key("notify") {
        out.push("root".to_string());
    }
    out
}
