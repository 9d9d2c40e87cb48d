//! Apple's command lines. Installed as `heartbeatd` or `failoverd` (a
//! symlink or hard link to ipfailoverd), the binary takes Mac OS X Server's
//! synopsis and builds the same configuration Apple's `/etc/hostconfig` keys
//! would, through the same parser, so both forms are checked alike:
//!
//!   heartbeatd [-d | -n | -x] [-p port] [-m message] [-L facility] ip_addr ...
//!   failoverd  [-d | -n | -x] [-p port] master_priv_addr interface:pub_addr[/mask] ...
//!
//! `-d` foreground, log to the terminal; `-n` check and exit; `-x` do not
//! fork, log to syslog; `-h` help; `-v` version. `status [--json]`,
//! `takeover` and `release` talk to the running daemon as with ipfailoverd.
#![forbid(unsafe_code)]

use crate::config::{self, Config, ConfigError};
// `Parsed::Run` carries it; named here as before (fuzz/ and tests).
use crate::live_system::LiveSystem;
pub use crate::verbs::RunMode;
use crate::verbs::{ask, check_or_run};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    Heartbeatd,
    Failoverd,
}

impl Personality {
    /// The personality a program name asks for, if any.
    pub(crate) fn from_argv0(argv0: &str) -> Option<Personality> {
        match argv0.rsplit('/').next()? {
            "heartbeatd" => Some(Personality::Heartbeatd),
            "failoverd" => Some(Personality::Failoverd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Personality::Heartbeatd => "heartbeatd",
            Personality::Failoverd => "failoverd",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Personality::Heartbeatd => {
                "usage: heartbeatd [-d | -n | -x] [-p port] [-m message] [-L facility] public_bcast private_bcast
       heartbeatd status [--json]
  -d  stay in the foreground, log to the terminal    -n  check and exit
  -x  do not fork, log to syslog                     -p  UDP port (1694)
  -m  Apple's heartbeat text (heartbeat)             -L  syslog facility (daemon)
  -h  this help                                      -v  version"
            }
            Personality::Failoverd => {
                "usage: failoverd [-d | -n | -x] [-p port] master_priv_addr interface:pub_addr[/mask] ...
       failoverd status [--json] | takeover | release
  -d  stay in the foreground, log to the terminal    -n  check and exit
  -x  do not fork, log to syslog                     -p  UDP port (1694)
  -h  this help                                      -v  version"
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The configuration text the arguments stand for, and how to run it.
    Run {
        mode: RunMode,
        text: String,
    },
    Control {
        request: String,
    },
    Help,
    Version,
    Bad(String),
}

/// Where a personality keeps its files: its own names, so that an
/// ipfailoverd with a configuration file can run beside it.
fn paths(p: Personality) -> String {
    let n = p.name();
    format!("pidfile = /run/{n}.pid\ncontrol_socket = /run/{n}.sock\nstate_dir = /var/lib/{n}\n")
}

/// A value for the configuration text, quoted; refuses what cannot be.
fn quoted(what: &str, v: &str) -> Result<String, String> {
    if v.contains('"') || v.chars().any(char::is_control) {
        return Err(format!("{what} {v:?}: quotes and control characters are not allowed"));
    }
    Ok(format!("\"{v}\""))
}

pub fn parse(p: Personality, args: &[String]) -> Parsed {
    if let Some(cmd @ ("status" | "takeover" | "release")) = args.first().map(String::as_str) {
        let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
        return match (cmd, rest.as_slice(), p) {
            ("status", [], _) => Parsed::Control { request: "status".into() },
            ("status", ["--json"], _) => Parsed::Control { request: "status --json".into() },
            ("takeover" | "release", [], Personality::Failoverd) => Parsed::Control { request: cmd.into() },
            _ => Parsed::Bad(format!("unexpected arguments: {}", args.join(" "))),
        };
    }
    let Options { mode, lines, operands } = match options(p, args) {
        Ok(o) => o,
        Err(done) => return done,
    };
    match operands_text(p, &operands) {
        Ok(a) => Parsed::Run { mode: mode.unwrap_or_default(), text: format!("{a}{lines}{}", paths(p)) },
        Err(e) => Parsed::Bad(e),
    }
}

/// What the flags of a command line say, and its operands.
struct Options<'a> {
    /// `-d`, `-n` or `-x`, if given.
    mode: Option<RunMode>,
    /// Configuration lines for the options with a value (`-p`, `-m`, `-L`).
    lines: String,
    operands: Vec<&'a str>,
}

/// Reads the flags, which may be grouped (`-dp 1694`), and collects the
/// operands; `Err` is what the command line comes to at once (help, the
/// version, a usage error).
fn options(p: Personality, args: &[String]) -> Result<Options<'_>, Parsed> {
    let mut o = Options { mode: None, lines: String::new(), operands: Vec::new() };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        if arg == "--" {
            o.operands.extend(args[i..].iter().map(String::as_str));
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            o.operands.push(arg);
            continue;
        };
        for (pos, c) in flags.char_indices() {
            let next = match c {
                'd' | 'n' | 'x' => {
                    let m = match c {
                        'd' => RunMode::Debug,
                        'n' => RunMode::Check,
                        _ => RunMode::NoFork,
                    };
                    if o.mode.is_some_and(|old| old != m) {
                        return Err(Parsed::Bad("-d, -n and -x exclude each other".into()));
                    }
                    o.mode = Some(m);
                    continue;
                }
                'h' => return Err(Parsed::Help),
                'v' => return Err(Parsed::Version),
                'p' => "port",
                'm' if p == Personality::Heartbeatd => "legacy_message",
                'L' if p == Personality::Heartbeatd => "syslog_facility",
                _ => return Err(Parsed::Bad(format!("unknown option -{c}"))),
            };
            // The value is the rest of this word or the next word.
            let rest = &flags[pos + c.len_utf8()..];
            let value = if !rest.is_empty() {
                rest
            } else if i < args.len() {
                i += 1;
                args[i - 1].as_str()
            } else {
                return Err(Parsed::Bad(format!("option -{c} needs a value")));
            };
            let q = quoted(&format!("-{c}"), value).map_err(Parsed::Bad)?;
            o.lines.push_str(&format!("{next} = {q}\n"));
            break;
        }
    }
    Ok(o)
}

/// The hostconfig keys the operands stand for: heartbeatd's two broadcast
/// addresses, failoverd's primary and interface:address pairs.
fn operands_text(p: Personality, operands: &[&str]) -> Result<String, String> {
    match (p, operands) {
        (Personality::Heartbeatd, [public, private]) => {
            quoted("address", &format!("{public} {private}")).map(|v| format!("FAILOVER_BCAST_IPS = {v}\n"))
        }
        (Personality::Heartbeatd, _) => Err(format!(
            "expected two broadcast addresses, the public network's then the private network's; got {}",
            operands.len()
        )),
        (Personality::Failoverd, [master, pairs @ ..]) if !pairs.is_empty() => quoted("address", master)
            .and_then(|m| Ok((m, quoted("address", &pairs.join(" "))?)))
            .map(|(m, p)| format!("FAILOVER_PEER_IP = {m}\nFAILOVER_PEER_IP_PAIRS = {p}\n")),
        (Personality::Failoverd, _) => {
            Err("expected the primary's private address, then interface:address pairs".into())
        }
    }
}

/// Parses what the command line stands for. Errors name the program, not
/// lines of a file the operator never wrote.
pub fn config(p: Personality, text: &str, sys: &dyn config::SystemView) -> Result<Config, Vec<ConfigError>> {
    let unline = |mut e: ConfigError| {
        e.line = 0;
        e
    };
    let mut cfg =
        config::parse(text, p.name(), sys).map_err(|v| v.into_iter().map(unline).collect::<Vec<_>>())?;
    cfg.command_line = true;
    cfg.lines = config::Lines::default();
    Ok(cfg)
}

/// The whole program as `heartbeatd` or `failoverd`.
pub(crate) fn main(p: Personality, args: &[String]) -> i32 {
    let name = p.name();
    let (mode, text) = match parse(p, args) {
        Parsed::Run { mode, text } => (mode, text),
        Parsed::Control { request } => {
            let socket = std::path::PathBuf::from(format!("/run/{name}.sock"));
            return ask(&socket, &request);
        }
        Parsed::Help => {
            println!("{}", p.usage());
            return 0;
        }
        Parsed::Version => {
            println!("{name} (ipfailoverd {})", crate::VERSION);
            return 0;
        }
        Parsed::Bad(msg) => {
            eprintln!("{name}: {msg}\n{}", p.usage());
            return 2;
        }
    };
    match config(p, &text, &LiveSystem) {
        Ok(cfg) => check_or_run(cfg, mode),
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            1
        }
    }
}

#[cfg(test)]
mod tests;
