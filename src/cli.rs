//! The command line: `ipfailoverd [-d] [-f file] [-n] [-v] [-h] [-V]`, and the
//! requests to a running daemon (`status`, `takeover`, `release`, `reload`).
#![forbid(unsafe_code)]

use crate::config;
use crate::live_system::LiveSystem;
use crate::personality::Personality;
use crate::verbs::{ask, check_or_run, RunMode};
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

pub fn main() -> i32 {
    // Before anything allocates, so that the heap starts small.
    crate::sys::process::small_heap();
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
