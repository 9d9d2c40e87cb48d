//! The command line: `ipfailoverd [-d] [-f file] [-n] [-v] [-h] [-V]`, and the
//! requests to a running daemon (`status`, `takeover`, `release`, `reload`).
#![forbid(unsafe_code)]

use crate::config::{self, Config, IfName, SystemView};
use crate::personality::{Personality, RunMode};
use std::net::IpAddr;
use std::path::PathBuf;

pub(crate) const DEFAULT_CONFIG: &str = "/etc/ipfailoverd.conf";

const USAGE: &str = "usage: ipfailoverd [-d] [-f file] [-n] [-v] [-h] [-V]
       ipfailoverd [-f file | -s socket] status [--json | --prometheus] | takeover | release | reload
  -d        stay in the foreground and log to stderr
  -f file   configuration file (default /etc/ipfailoverd.conf)
  -n        check the configuration and the system, then exit
  -v        also log what the daemon sees (each datagram accepted or dropped, each
            decision's input), at the debug level
  -s socket the running daemon's control socket (default: control_socket of
            the configuration file, read even when the file has errors)
  -h        show this help (also --help)
  -V        show the version (also --version)
  status    show the running daemon's state (--json: machine-readable;
            --prometheus: the metrics of metrics_listen, for node_exporter)
  takeover  put the service addresses on this node (refused if that makes two owners)
  release   take the service addresses off this node
  reload    reload the configuration file and wait for the outcome: exits 1,
            saying why, when the daemon refuses the file";

#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub foreground: bool,
    pub file: PathBuf,
    pub check: bool,
    /// `-v`: debug lines on.
    pub verbose: bool,
}

/// Where a request to the running daemon goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// The control socket named by this configuration file.
    File(PathBuf),
    /// This control socket (`-s`).
    Socket(PathBuf),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Args),
    /// A request to the running daemon: `status`, `status --json`, ...
    Control {
        target: Target,
        request: String,
    },
    Help,
    Version,
    /// A usage error: the message, then usage, exit 2.
    Bad(String),
}

/// Parses the arguments after the program name. Single-letter flags may be
/// grouped (`-dn`); `-f` takes the next word or the rest of its own.
pub fn parse(args: &[String]) -> Parsed {
    let mut out =
        Args { foreground: false, file: PathBuf::from(DEFAULT_CONFIG), check: false, verbose: false };
    let mut socket: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        match arg.as_str() {
            "--help" => return Parsed::Help,
            "--version" => return Parsed::Version,
            _ => {}
        }
        if matches!(arg.as_str(), "status" | "takeover" | "release" | "reload") {
            let rest: Vec<&str> = args[i..].iter().map(String::as_str).collect();
            let request = match (arg.as_str(), rest.as_slice()) {
                ("status", []) => "status".to_string(),
                ("status", ["--json"]) => "status --json".to_string(),
                ("status", ["--prometheus"]) => "status --prometheus".to_string(),
                (cmd, []) if cmd != "status" => cmd.to_string(),
                _ => return Parsed::Bad(format!("unexpected arguments after {arg}: {}", rest.join(" "))),
            };
            if out.foreground || out.check {
                return Parsed::Bad(format!("-d and -n do not go with {arg}"));
            }
            if out.verbose {
                return Parsed::Bad(format!("-v does not go with {arg}"));
            }
            let target = match socket {
                Some(path) => absolute(path).map(Target::Socket),
                None => absolute(out.file).map(Target::File),
            };
            return match target {
                Ok(target) => Parsed::Control { target, request },
                Err(bad) => bad,
            };
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Parsed::Bad(format!("unexpected argument '{arg}'"));
        };
        for (pos, c) in flags.char_indices() {
            match c {
                'd' => out.foreground = true,
                'n' => out.check = true,
                'v' => out.verbose = true,
                'h' => return Parsed::Help,
                'V' => return Parsed::Version,
                'f' | 's' => {
                    let rest = &flags[pos + 1..];
                    let word = if !rest.is_empty() {
                        rest.to_string()
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else if c == 'f' {
                        return Parsed::Bad("option -f needs a file name".into());
                    } else {
                        return Parsed::Bad("option -s needs a socket path".into());
                    };
                    if c == 'f' {
                        out.file = PathBuf::from(word);
                    } else {
                        socket = Some(PathBuf::from(word));
                    }
                    break;
                }
                _ if flags.starts_with('-') => return Parsed::Bad(format!("unknown option {arg}")),
                _ => return Parsed::Bad(format!("unknown option -{c}")),
            }
        }
    }
    if socket.is_some() {
        return Parsed::Bad("-s goes with status, takeover, release or reload".into());
    }
    match absolute(out.file) {
        Ok(file) => Parsed::Run(Args { file, ..out }),
        Err(bad) => bad,
    }
}

/// The configuration path made absolute against the current directory:
/// the daemon changes to `/` when it detaches, and a SIGHUP must reload
/// the file it was started with, not one of the same name below `/`.
/// Links are not resolved (an operator who points a link elsewhere and
/// reloads means the new target).
fn absolute(file: PathBuf) -> Result<PathBuf, Parsed> {
    std::path::absolute(&file)
        .map_err(|e| Parsed::Bad(format!("cannot make the path {} absolute: {e}", file.display())))
}

/// Talks to the running daemon. Only the control socket is needed: a
/// configuration file with errors (being edited, say) must not keep the
/// operator from looking at the daemon or moving the addresses, nor break
/// monitoring that reads `status --json`. Its errors are mentioned on
/// stderr, once, and the socket is read from it leniently.
fn control(target: &Target, request: &str) -> i32 {
    let socket = match target {
        Target::Socket(path) => path.clone(),
        Target::File(file) => match config::load(file, &LiveSystem) {
            Ok(cfg) => cfg.control_socket,
            Err(errors) => {
                let socket = config::control_socket_of(file);
                // `reload` reports the daemon's verdict on the file itself.
                if request != "reload" {
                    eprintln!(
                        "ipfailoverd: note: {} has {} error(s) (see ipfailoverd -n); asking the daemon at {}",
                        file.display(),
                        errors.len(),
                        socket.display()
                    );
                }
                socket
            }
        },
    };
    ask(&socket, request)
}

/// Sends one request to the daemon's control socket and prints the answer.
pub(crate) fn ask(socket: &std::path::Path, request: &str) -> i32 {
    match crate::daemon::client(socket, request) {
        Ok(body) => {
            print!("{body}");
            0
        }
        Err(e) => {
            eprintln!("ipfailoverd: {e}");
            1
        }
    }
}

/// The live system, as the configuration parser needs it.
pub(crate) struct LiveSystem;

impl SystemView for LiveSystem {
    fn interface_for(&self, ip: IpAddr) -> Option<IfName> {
        let IpAddr::V4(v4) = ip else { return None };
        let label = crate::sys::net::interface_for(v4).ok().flatten()?;
        // An alias label such as eth0:1 belongs to eth0.
        IfName::new(label.split(':').next().unwrap_or(&label)).ok()
    }

    /// `None` for an interface that does not exist: `check_system` says
    /// so already, and "has no IPv4 address" would only repeat it.
    fn ipv4_subnets(&self, ifname: &str) -> Option<Vec<(std::net::Ipv4Addr, u8)>> {
        if !std::path::Path::new("/sys/class/net").join(ifname).exists() {
            return None;
        }
        let all = crate::sys::net::list_ipv4().ok()?;
        Some(
            all.into_iter()
                .filter(|(label, _, _)| label.split(':').next() == Some(ifname))
                .map(|(_, addr, prefix)| (addr, prefix))
                .collect(),
        )
    }
}

pub fn main() -> i32 {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_default();
    let argv: Vec<String> = argv.collect();
    if let Some(p) = Personality::from_argv0(&argv0) {
        return crate::personality::main(p, &argv);
    }
    let args = match parse(&argv) {
        Parsed::Run(a) => a,
        Parsed::Control { target, request } => return control(&target, &request),
        Parsed::Help => {
            println!("{USAGE}");
            return 0;
        }
        Parsed::Version => {
            println!("ipfailoverd {}", crate::VERSION);
            return 0;
        }
        Parsed::Bad(msg) => {
            eprintln!("ipfailoverd: {msg}\n{USAGE}");
            return 2;
        }
    };
    crate::log::set_debug(args.verbose);
    match config::load(&args.file, &LiveSystem) {
        Ok(cfg) => {
            let mode = match (args.check, args.foreground) {
                (true, _) => RunMode::Check,
                (false, true) => RunMode::Debug,
                (false, false) => RunMode::Daemon,
            };
            check_or_run(cfg, mode)
        }
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            1
        }
    }
}

/// `-n`: the configuration against this system; otherwise runs the daemon.
pub(crate) fn check_or_run(cfg: Config, mode: RunMode) -> i32 {
    if mode != RunMode::Check {
        let opts =
            crate::daemon::Options { log_stderr: mode == RunMode::Debug, detach: mode == RunMode::Daemon };
        return crate::daemon::run(cfg, &opts);
    }
    let mut problems = config::check_system(&cfg);
    problems.extend(hook_problems(&cfg));
    let running = match crate::daemon::instances::check(&cfg) {
        Ok(taken) => {
            problems.extend(taken);
            None
        }
        Err(note) => Some(note),
    };
    let layout = config::check_layout(&cfg, &LiveSystem);
    problems.extend(layout.errors);
    problems.sort_by_key(|e| e.line);
    for p in &problems {
        eprintln!("{p}");
    }
    // Warnings after the errors, each marked, so that an operator (or a
    // script) can tell what stops the daemon from what merely looks wrong.
    for w in &layout.warnings {
        eprintln!("{}", warning(w));
    }
    if !problems.is_empty() {
        eprintln!("{}: {} error(s), {} warning(s)", cfg.file, problems.len(), layout.warnings.len());
        return 1;
    }
    if let Some(note) = running {
        println!("{}: {note}", cfg.file);
    }
    if !cfg.ignored_keys.is_empty() {
        let keys: Vec<&str> = cfg.ignored_keys.iter().map(|(_, k)| k.as_str()).collect();
        println!("{}: note: ignored {} unrelated hostconfig keys: {}", cfg.file, keys.len(), keys.join(" "));
    }
    if cfg.auth_key_file.is_some() && cfg.legacy_heartbeat.accepts() {
        println!("{}: warning: {}", cfg.file, crate::daemon::start::legacy_bypass_warning());
    }
    match cfg.pair_name() {
        Some(p) => println!(
            "{}: pair {} (id {}{}): the other node must show the same",
            cfg.file,
            p.name,
            crate::proto::pair::hex(crate::proto::pair::id(&p.name)),
            if p.derived { ", derived from the service addresses and the port" } else { "" }
        ),
        None => println!(
            "{}: note: the pair is unnamed (no pair line and no service address): datagrams of another \
             pair on the same network cannot be told apart; set the same pair = NAME on both nodes",
            cfg.file
        ),
    }
    match layout.warnings.len() {
        0 => println!("{}: configuration OK ({})", cfg.file, cfg.role.as_str()),
        n => println!("{}: configuration OK ({}), {n} warning(s) above", cfg.file, cfg.role.as_str()),
    }
    0
}

/// `file:line: warning: message`: the same shape as an error, marked.
fn warning(w: &config::ConfigError) -> String {
    config::ConfigError { message: format!("warning: {}", w.message), ..w.clone() }.to_string()
}

/// Every hook the secondary would skip (an unsafe file or directory on the
/// way to it, see `hooks::discover`), as `-n` errors at `scripts_dir`.
/// Hooks only run on the secondary.
fn hook_problems(cfg: &Config) -> Vec<config::ConfigError> {
    use crate::hooks::{discover, Stage};
    if cfg.role != config::Role::Secondary {
        return Vec::new();
    }
    let stages = [Stage::Test, Stage::PreAcq, Stage::PostAcq, Stage::PreRel, Stage::PostRel];
    cfg.addresses
        .iter()
        .flat_map(|a| stages.iter().flat_map(move |&stage| discover(&cfg.scripts_dir, a, stage).1))
        .map(|skipped| config::ConfigError {
            file: cfg.file.clone(),
            line: cfg.line_of("scripts_dir"),
            message: skipped.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Parsed {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options() {
        let run = |fg, file: &str, check| {
            Parsed::Run(Args { foreground: fg, file: PathBuf::from(file), check, verbose: false })
        };
        assert_eq!(p(&[]), run(false, DEFAULT_CONFIG, false));
        assert_eq!(p(&["-d", "-f", "/x.conf"]), run(true, "/x.conf", false));
        assert_eq!(p(&["-dn", "-f/y"]), run(true, "/y", true));
        assert_eq!(p(&["-nf", "/z"]), run(false, "/z", true));
        assert_eq!(p(&["-h"]), Parsed::Help);
        assert_eq!(p(&["-d", "-V"]), Parsed::Version);
        let verbose = Args { foreground: true, file: PathBuf::from("/x.conf"), check: false, verbose: true };
        assert_eq!(p(&["-dv", "-f", "/x.conf"]), Parsed::Run(verbose));
        assert!(matches!(p(&["-v", "status"]), Parsed::Bad(m) if m == "-v does not go with status"));
        let ctl = |file: &str, r: &str| Parsed::Control {
            target: Target::File(PathBuf::from(file)),
            request: r.into(),
        };
        assert_eq!(p(&["status"]), ctl(DEFAULT_CONFIG, "status"));
        assert_eq!(p(&["-f", "/a", "status", "--json"]), ctl("/a", "status --json"));
        assert_eq!(p(&["status", "--prometheus"]), ctl(DEFAULT_CONFIG, "status --prometheus"));
        assert!(matches!(p(&["status", "--json", "--prometheus"]), Parsed::Bad(_)));
        assert_eq!(p(&["takeover"]), ctl(DEFAULT_CONFIG, "takeover"));
        assert_eq!(p(&["release"]), ctl(DEFAULT_CONFIG, "release"));
        assert_eq!(p(&["reload"]), ctl(DEFAULT_CONFIG, "reload"));
    }

    #[test]
    fn long_help_and_socket_option() {
        assert_eq!(p(&["--help"]), Parsed::Help);
        assert_eq!(p(&["-d", "--help"]), Parsed::Help);
        assert_eq!(p(&["--version"]), Parsed::Version);
        assert!(matches!(p(&["--bogus"]), Parsed::Bad(m) if m == "unknown option --bogus"));
        let sock = |path: &str, r: &str| Parsed::Control {
            target: Target::Socket(PathBuf::from(path)),
            request: r.into(),
        };
        assert_eq!(p(&["-s", "/run/x.sock", "status", "--json"]), sock("/run/x.sock", "status --json"));
        assert_eq!(p(&["-f", "/a", "-s/b.sock", "takeover"]), sock("/b.sock", "takeover"));
        assert_eq!(p(&["-s", "/b.sock", "release"]), sock("/b.sock", "release"));
        assert!(matches!(p(&["-s"]), Parsed::Bad(m) if m.contains("-s")));
        assert!(matches!(p(&["-s", "/b.sock"]), Parsed::Bad(m) if m.contains("-s goes with")));
    }

    #[test]
    fn control_socket_is_found_in_a_file_with_errors() {
        let d = std::env::temp_dir().join(format!("ipfo-cli-sock-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("broken.conf");
        std::fs::write(&f, "role = tertiary\nbogus = 1\ncontrol_socket = /run/x/y.sock # ours\n").unwrap();
        assert_eq!(config::control_socket_of(&f), PathBuf::from("/run/x/y.sock"));
        std::fs::write(&f, "role = secondary\nport = x\n").unwrap();
        assert_eq!(config::control_socket_of(&f), PathBuf::from("/run/ipfailoverd.sock"));
        assert_eq!(config::control_socket_of(&d.join("absent")), PathBuf::from("/run/ipfailoverd.sock"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn relative_config_path_becomes_absolute() {
        let cwd = std::env::current_dir().unwrap();
        let run = |file: PathBuf| Parsed::Run(Args { foreground: false, file, check: false, verbose: false });
        assert_eq!(p(&["-f", "x.conf"]), run(cwd.join("x.conf")));
        assert_eq!(p(&["-fetc/y.conf"]), run(cwd.join("etc/y.conf")));
        assert_eq!(p(&["-f", "./z.conf"]), run(cwd.join("z.conf")));
        let ctl = Parsed::Control { target: Target::File(cwd.join("a.conf")), request: "status".into() };
        assert_eq!(p(&["-f", "a.conf", "status"]), ctl);
        assert_eq!(p(&["-f", "/abs.conf"]), run(PathBuf::from("/abs.conf")));
    }

    #[test]
    fn check_reports_hooks_that_would_be_skipped() {
        if !crate::root_or_skip("check_reports_hooks_that_would_be_skipped") {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        struct NoLookups;
        impl config::SystemView for NoLookups {
            fn interface_for(&self, _: IpAddr) -> Option<IfName> {
                None
            }
        }
        let d = std::env::temp_dir().join(format!("ipfo-cli-hooks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let hooks = d.join("198.18.0.10");
        std::fs::create_dir_all(&hooks).unwrap();
        for name in ["Test", "PreAcq1"] {
            std::fs::write(hooks.join(name), "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(hooks.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let text = format!(
            "role = secondary\nnetwork = public eth0 198.18.0.255\nnetwork = private eth1 198.19.0.255\n\
             peer = 198.19.0.1\naddress = eth0:198.18.0.10/24\nscripts_dir = {}\n",
            d.display()
        );
        let cfg = config::parse(&text, "t.conf", &NoLookups).unwrap();
        assert!(hook_problems(&cfg).is_empty());
        std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o775)).unwrap();
        let found: Vec<String> = hook_problems(&cfg).iter().map(|e| e.to_string()).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().all(|e| e.starts_with("t.conf:6: skipping hook") && e.contains("mode 0775")),
            "{found:?}"
        );
        let primary = config::parse(&text.replace("secondary", "primary"), "t.conf", &NoLookups).unwrap();
        assert!(hook_problems(&primary).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn usage_errors() {
        assert!(matches!(p(&["-x"]), Parsed::Bad(m) if m.contains("-x")));
        assert!(matches!(p(&["-f"]), Parsed::Bad(m) if m.contains("-f")));
        assert!(matches!(p(&["stray"]), Parsed::Bad(_)));
        assert!(matches!(p(&["-"]), Parsed::Bad(_)));
        assert!(matches!(p(&["status", "--yaml"]), Parsed::Bad(_)));
        assert!(matches!(p(&["takeover", "--json"]), Parsed::Bad(_)));
        assert!(matches!(p(&["-d", "status"]), Parsed::Bad(_)));
    }
}
