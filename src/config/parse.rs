//! From text to `Config`: lines become raw (line, value) entries, Apple's
//! keys are mapped onto the same entries, then each key of the table
//! (`keys.rs`) converts its entries, or its default when it has none, with
//! ranges checked; the rules between keys come last. All problems are
//! collected.

use super::keys::{self, Count, Key, Problem, KEYS};
use super::values::IfName;
use super::{Config, ConfigError, Failback, Legacy, Lines, Mode, NetId, Network, Role, SystemView};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Raw entries, before conversion.
#[derive(Default)]
pub(super) struct Raw {
    pub single: BTreeMap<&'static str, (usize, String)>,
    pub repeated: BTreeMap<&'static str, Vec<(usize, String)>>,
    pub apple: Vec<(usize, String, String)>,
    pub upper: Vec<(usize, String)>,
    /// Single-valued keys set by Apple's keys, not written in the file.
    pub implied: Vec<&'static str>,
}

pub(super) struct Errors {
    pub file: String,
    pub list: Vec<ConfigError>,
}

impl Errors {
    pub(super) fn at(&mut self, line: usize, message: impl Into<String>) {
        self.list.push(ConfigError { file: self.file.clone(), line, message: message.into() });
    }
}

impl Raw {
    /// Sets a single-valued key, or reports the earlier line.
    pub(super) fn set(&mut self, key: &'static str, line: usize, value: String, errs: &mut Errors) {
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
        if let Some(k) = keys::find(key) {
            match k.count {
                Count::Once => raw.set(k.name, line_no, value, errs),
                Count::Many => raw.repeated.entry(k.name).or_default().push((line_no, value)),
            }
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

/// The control socket a file names, read leniently: the file may have
/// errors elsewhere (the daemon runs with the configuration it loaded
/// earlier), and `status`, `takeover`, `release` and `reload` need
/// nothing else from it. A missing or bad `control_socket` line gives
/// the default.
pub(super) fn control_socket(text: &str) -> PathBuf {
    let mut errs = Errors { file: String::new(), list: Vec::new() };
    let raw = lex(text, &mut errs);
    let default = keys::find("control_socket").and_then(|k| k.default).unwrap_or_default();
    let value = raw.single.get("control_socket").map_or(default, |(_, v)| v.as_str());
    super::values::path(value).unwrap_or_else(|_| PathBuf::from(default))
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

/// Every key of the table, converted from its entries or its default,
/// then the rules between keys. `None` when the file leaves the role or a
/// network unknown (always with an error saying so).
fn build(raw: &Raw, errs: &mut Errors, file: &str, ignored_keys: Vec<(usize, String)>) -> Option<Config> {
    let mut cfg = blank(file, ignored_keys);
    let mut failed: Vec<&'static str> = Vec::new();
    for key in KEYS {
        let entries: Vec<(usize, &str)> = match key.count {
            Count::Once => raw.single.get(key.name).map(|(l, v)| (*l, v.as_str())).into_iter().collect(),
            Count::Many => {
                raw.repeated.get(key.name).into_iter().flatten().map(|(l, v)| (*l, v.as_str())).collect()
            }
        };
        if entries.is_empty() {
            if let Some(default) = key.default {
                convert(key, &mut cfg, default, 0, errs);
            }
            continue;
        }
        for (line, value) in entries {
            if key.count == Count::Once {
                cfg.lines.keys.insert(key.name, line);
            }
            if !convert(key, &mut cfg, value, line, errs) {
                failed.push(key.name);
                // The rules between keys then judge the others against
                // the default, not against a blank.
                if let (Count::Once, Some(default)) = (key.count, key.default) {
                    convert(key, &mut cfg, default, 0, errs);
                }
            }
        }
    }
    let role_known = raw.single.contains_key("role") && !failed.contains(&"role");
    rules(raw, &cfg, role_known, errs);
    let networks_known = cfg.lines.networks.iter().all(|&line| line != 0);
    (role_known && networks_known).then_some(cfg)
}

/// Converts one value; a problem is reported at its line.
fn convert(key: &Key, cfg: &mut Config, value: &str, line: usize, errs: &mut Errors) -> bool {
    let name = key.name;
    match (key.convert)(cfg, value, line) {
        Ok(()) => return true,
        Err(Problem::Value(e)) => errs.at(line, format!("{name}: {e}")),
        Err(Problem::Values(list)) => list.into_iter().for_each(|e| errs.at(line, format!("{name}: {e}"))),
        Err(Problem::Plain(e)) => errs.at(line, e),
    }
    false
}

/// Rules between keys, and the keys required.
fn rules(raw: &Raw, cfg: &Config, role_known: bool, errs: &mut Errors) {
    if cfg.dead_after < cfg.interval * 2 {
        let line = raw.single.get("dead_after").or(raw.single.get("interval")).map_or(0, |e| e.0);
        errs.at(
            line,
            format!("dead_after ({:?}) must be at least twice interval ({:?})", cfg.dead_after, cfg.interval),
        );
    }
    for id in NetId::ALL {
        let named = raw
            .repeated
            .get("network")
            .is_some_and(|v| v.iter().any(|(_, s)| s.split_whitespace().next() == Some(id.as_str())));
        if !named {
            let name = id.as_str();
            errs.at(
                0,
                format!(
                    "missing key network for the {name} network (network = {name} <interface> <destination>)"
                ),
            );
        }
    }
    if !role_known {
        if !raw.single.contains_key("role") {
            errs.at(0, "missing key role (primary or secondary)");
        }
        return;
    }
    if cfg.role == Role::Secondary && cfg.peer.is_none() && !raw.single.contains_key("peer") {
        errs.at(0, "missing key peer (the primary's address on the private network)");
    }
    legacy_beside_key(raw, cfg, errs);
    let needs_addr = cfg.role == Role::Secondary || cfg.mode == Mode::Managed;
    if needs_addr && cfg.addresses.is_empty() && !raw.repeated.contains_key("address") {
        errs.at(0, "missing key address (at least one service address, e.g. address = eth0:198.18.0.10/24)");
    }
}

/// Apple's text has no MAC: accepting it beside a key lets anyone who can
/// send from the primary's addresses do without the key what the key is
/// there to prevent (hold off a takeover, make a static secondary give
/// back). Only an operator who says so gets both.
fn legacy_beside_key(raw: &Raw, cfg: &Config, errs: &mut Errors) {
    if cfg.legacy_heartbeat != Legacy::Yes || cfg.auth_key_file.is_none() {
        return;
    }
    let line = raw.single.get("legacy_heartbeat").map_or(0, |e| e.0);
    let key_line = raw.single.get("auth_key_file").map_or(0, |e| e.0);
    let from =
        if raw.implied.contains(&"legacy_heartbeat") { " (implied by the FAILOVER_ keys)" } else { "" };
    errs.at(
        line,
        format!(
            "legacy_heartbeat = yes{from} accepts Apple's unauthenticated heartbeat text beside \
             auth_key_file (line {key_line}): anyone who can send from the primary's addresses could \
             hold off a takeover or make a static secondary give back without the key. Set \
             legacy_heartbeat = no once the primary runs ipfailoverd, or \
             legacy_heartbeat = yes-unauthenticated to accept the text anyway"
        ),
    );
}

/// The configuration before the table fills it in. Every key with a
/// default overwrites its field; role and networks have none, and a file
/// that leaves them unset is refused, so these placeholders never leave
/// the parser.
fn blank(file: &str, ignored_keys: Vec<(usize, String)>) -> Config {
    let unset = |id| Network { id, interface: IfName::unset(), dest: IpAddr::from([0, 0, 0, 0]) };
    let zero = Duration::ZERO;
    Config {
        file: file.to_string(),
        role: Role::Secondary,
        port: 0,
        interval: zero,
        dead_after: zero,
        recover_after: zero,
        startup_grace: zero,
        takeover_probe: None,
        networks: NetId::ALL.map(unset),
        peer: None,
        addresses: Vec::new(),
        outside_subnet: Vec::new(),
        mode: Mode::Managed,
        auth_key_file: None,
        legacy_heartbeat: Legacy::No,
        legacy_message: String::new(),
        notify: Vec::new(),
        sendmail: PathBuf::new(),
        scripts_dir: PathBuf::new(),
        hook_timeout: zero,
        garp_count: 0,
        garp_interval: zero,
        syslog_facility: String::new(),
        pidfile: PathBuf::new(),
        control_socket: PathBuf::new(),
        state_dir: PathBuf::new(),
        failback: Failback::Auto,
        mail_timeout: zero,
        mail_min_interval: zero,
        pair: None,
        checks: Vec::new(),
        check_interval: Default::default(),
        check_timeout: Default::default(),
        check_fall: Default::default(),
        check_rise: Default::default(),
        check_gates_takeover: true,
        metrics_listen: None,
        interface_wait: zero,
        ignored_keys,
        lines: Lines::default(),
        command_line: false,
    }
}
