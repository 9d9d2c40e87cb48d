//! The configuration: a hand-written `key = value` parser (docs/design.md §5) that
//! also understands Apple's `/etc/hostconfig` keys (docs/design.md §3). Parsing is
//! pure; the few facts it needs from the system come through `SystemView`.
//! Every problem is reported, all at once, as `file:line: message`.
#![forbid(unsafe_code)]

mod apple;
mod keys;
mod pair;
mod parse;
mod service_checks;
mod subnets;
mod values;

pub(crate) use pair::PairName;
pub use service_checks::{Check, CheckTiming, PerCheck};
pub(crate) use subnets::{check_addresses, check_networks};
pub use values::IfName;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const IFNAMSIZ: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Secondary,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }
}

/// The two networks every pair watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetId {
    Public,
    Private,
}

impl NetId {
    pub(crate) const ALL: [NetId; 2] = [NetId::Public, NetId::Private];

    pub(crate) fn index(self) -> usize {
        match self {
            NetId::Public => 0,
            NetId::Private => 1,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NetId::Public => "public",
            NetId::Private => "private",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Managed,
    Static,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failback {
    Auto,
    Manual,
}

/// Apple's heartbeat text (`legacy_heartbeat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legacy {
    No,
    /// Accept it (a secondary watching an old Mac). Refused beside
    /// `auth_key_file`: the text has no MAC.
    Yes,
    /// Accept it beside `auth_key_file`: the operator said so.
    YesUnauthenticated,
    /// Send it as well (a primary watched by an old Mac).
    Send,
}

impl Legacy {
    /// Whether Apple's text is accepted as a heartbeat.
    pub(crate) fn accepts(self) -> bool {
        matches!(self, Legacy::Yes | Legacy::YesUnauthenticated)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    pub id: NetId,
    pub interface: IfName,
    /// Where our datagrams go: the subnet's broadcast or the peer's address.
    pub dest: IpAddr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAddr {
    pub interface: IfName,
    pub addr: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for ServiceAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.interface, self.addr, self.prefix)
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// The path as given, for messages.
    pub file: String,
    pub role: Role,
    pub port: u16,
    pub interval: Duration,
    pub dead_after: Duration,
    pub recover_after: Duration,
    pub startup_grace: Duration,
    /// Secondary: probe before taking over a silent primary's addresses;
    /// `None` is `auto` (`engine::auto_takeover_probe`), zero is off.
    pub takeover_probe: Option<Duration>,
    /// Index 0 public, 1 private (`NetId::index`).
    pub networks: [Network; 2],
    pub peer: Option<IpAddr>,
    pub addresses: Vec<ServiceAddr>,
    /// Service addresses allowed outside every subnet of their interface
    /// (`outside_subnet`): the operator says a router delivers them.
    pub outside_subnet: Vec<IpAddr>,
    pub mode: Mode,
    pub auth_key_file: Option<PathBuf>,
    pub legacy_heartbeat: Legacy,
    pub legacy_message: String,
    pub notify: Vec<String>,
    pub sendmail: PathBuf,
    pub scripts_dir: PathBuf,
    pub hook_timeout: Duration,
    pub garp_count: u32,
    pub garp_interval: Duration,
    pub syslog_facility: String,
    pub pidfile: PathBuf,
    pub control_socket: PathBuf,
    pub state_dir: PathBuf,
    pub failback: Failback,
    pub mail_timeout: Duration,
    /// At most one mail of a kind per this (moves are never held back).
    pub mail_min_interval: Duration,
    /// `pair = NAME` as written; see `pair_name` for the name in force.
    pub pair: Option<String>,
    /// Service health checks (docs/design.md §9), in file order.
    pub checks: Vec<Check>,
    /// The timing keys of checks, global and per check: see
    /// `Config::check_timing` for the values in force.
    pub check_interval: PerCheck<Duration>,
    pub check_timeout: PerCheck<Duration>,
    pub check_fall: PerCheck<u32>,
    pub check_rise: PerCheck<u32>,
    /// An unfit secondary does not take over (docs/design.md §9).
    pub check_gates_takeover: bool,
    /// Where the Prometheus endpoint listens (`GET /metrics`); `None`: off.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// At start, how long to wait for an interface the file names that
    /// does not exist yet before the start fails (`daemon/absent.rs`).
    pub interface_wait: Duration,
    /// Unrelated upper-case keys of a hostconfig file: (line, key).
    pub ignored_keys: Vec<(usize, String)>,
    /// Where each setting was written, for messages about its value.
    pub lines: Lines,
    /// Built from a heartbeatd or failoverd command line, not a file:
    /// SIGHUP re-announces the addresses (Apple's tickle) instead of
    /// reloading.
    pub command_line: bool,
}

/// Where each setting was written; 0 when it was not (a default, or a
/// command line). Kept apart from the values on purpose: configurations
/// are compared by what they mean, and a comment added above `network`
/// changes no meaning.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    /// Single-valued keys, by name.
    pub keys: BTreeMap<&'static str, usize>,
    /// By `NetId::index`.
    pub networks: [usize; 2],
    /// In the order of `Config::addresses`.
    pub addresses: Vec<usize>,
    /// In the order of `Config::checks`.
    pub checks: Vec<usize>,
    /// Timing keys of checks: (check name, "" for the global line; key).
    pub check_keys: BTreeMap<(String, &'static str), usize>,
}

impl Config {
    pub(crate) fn network(&self, id: NetId) -> &Network {
        &self.networks[id.index()]
    }

    pub(crate) fn line_of(&self, key: &str) -> usize {
        self.lines.keys.get(key).copied().unwrap_or(0)
    }

    pub(crate) fn line_of_network(&self, id: NetId) -> usize {
        self.lines.networks[id.index()]
    }

    /// The line of `addresses[i]`.
    pub(crate) fn line_of_address(&self, i: usize) -> usize {
        self.lines.addresses.get(i).copied().unwrap_or(0)
    }

    /// How this daemon names itself in syslog (the ident), on stderr and
    /// in mail subjects: `ipfailoverd`, or `ipfailoverd/NAME` when `pair =
    /// NAME` is set, so that the instances of an active/active host (one
    /// per pair) can be told apart. A derived name is left out: it says
    /// nothing to a reader.
    pub(crate) fn ident(&self) -> String {
        match &self.pair {
            Some(name) => format!("ipfailoverd/{name}"),
            None => "ipfailoverd".to_string(),
        }
    }

    /// The pair's name: `pair` when set, otherwise derived from the service
    /// addresses and the port (`pair::derived`); `None` when there is
    /// neither. The daemon takes it once, at start: a reload that changes
    /// the addresses does not rename a running pair.
    pub(crate) fn pair_name(&self) -> Option<PairName> {
        match &self.pair {
            Some(name) => Some(PairName { name: name.clone(), derived: false }),
            None => pair::derived(self.addresses.iter().map(|a| a.addr), self.port)
                .map(|name| PairName { name, derived: true }),
        }
    }
}

/// The first key, in the table's order, that only a restart can change
/// and whose meaning differs between `old` and `new`; `None` when a reload
/// may put `new` in force. Where lines are in the file never counts.
pub(crate) fn restart_needed(old: &Config, new: &Config) -> Option<&'static str> {
    keys::restart_needed(old, new)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 0 when the problem is not tied to one line.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// What parsing needs to know about the running system.
pub trait SystemView {
    /// The local interface whose IPv4 subnet contains `ip` (Apple's keys
    /// name addresses, not interfaces).
    fn interface_for(&self, ip: IpAddr) -> Option<IfName>;

    /// The IPv4 subnets (address, prefix) of interface `ifname`, aliases
    /// included; `None` when that cannot be known (the `-n` checks that
    /// need it are then skipped).
    fn ipv4_subnets(&self, _ifname: &str) -> Option<Vec<(std::net::Ipv4Addr, u8)>> {
        None
    }

    /// Every address of the host as (label, address): an IPv4 address
    /// under its label as the kernel keeps it (`eth0`, or an alias label
    /// such as `eth0:1`), an IPv6 address under its interface's name;
    /// `None` when that cannot be known (the checks that need it are then
    /// skipped).
    fn addresses(&self) -> Option<Vec<(String, IpAddr)>> {
        None
    }
}

pub fn parse(text: &str, file: &str, sys: &dyn SystemView) -> Result<Config, Vec<ConfigError>> {
    parse::parse(text, file, sys)
}

/// The control socket named by the file at `path`, even when the file has
/// errors; the default when it cannot be read (see `parse::control_socket`).
pub(crate) fn control_socket_of(path: &Path) -> PathBuf {
    parse::control_socket(&std::fs::read_to_string(path).unwrap_or_default())
}

pub(crate) fn load(path: &Path, sys: &dyn SystemView) -> Result<Config, Vec<ConfigError>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &file, sys),
        Err(e) => Err(vec![ConfigError { file, line: 0, message: format!("cannot read: {e}") }]),
    }
}

#[cfg(test)]
pub(crate) mod tests;
