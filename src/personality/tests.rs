use super::*;
use crate::config::{IfName, Legacy, Mode, NetId, Role, SystemView};
use std::net::IpAddr;

/// en0 on 198.18.0.0/24, eth1 on 198.19.0.0/24.
struct Fake;

impl SystemView for Fake {
    fn interface_for(&self, ip: IpAddr) -> Option<IfName> {
        match ip {
            IpAddr::V4(v) if v.octets()[..3] == [198, 18, 0] => IfName::new("en0").ok(),
            IpAddr::V4(v) if v.octets()[..3] == [198, 19, 0] => IfName::new("eth1").ok(),
            _ => None,
        }
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn run(p: Personality, a: &[&str]) -> (RunMode, Config) {
    match parse(p, &args(a)) {
        Parsed::Run { mode, text } => (mode, config(p, &text, &Fake).unwrap()),
        other => panic!("{a:?}: {other:?}"),
    }
}

fn bad(p: Personality, a: &[&str]) -> String {
    match parse(p, &args(a)) {
        Parsed::Bad(m) => m,
        other => panic!("{a:?} should be refused: {other:?}"),
    }
}

#[test]
fn program_names() {
    assert_eq!(Personality::from_argv0("/usr/sbin/heartbeatd"), Some(Personality::Heartbeatd));
    assert_eq!(Personality::from_argv0("failoverd"), Some(Personality::Failoverd));
    assert_eq!(Personality::from_argv0("/usr/sbin/ipfailoverd"), None);
    assert_eq!(Personality::from_argv0("heartbeatd2"), None);
    assert_eq!(Personality::from_argv0(""), None);
}

#[test]
fn heartbeatd_synopsis() {
    let h = Personality::Heartbeatd;
    let (mode, c) = run(h, &["198.18.0.255", "198.19.0.255"]);
    assert_eq!(mode, RunMode::Daemon);
    assert_eq!(c.role, Role::Primary);
    assert_eq!((c.mode, c.legacy_heartbeat), (Mode::Static, Legacy::Send));
    assert_eq!(c.network(NetId::Public).interface.as_str(), "en0");
    assert_eq!(c.network(NetId::Private).dest, "198.19.0.255".parse::<IpAddr>().unwrap());
    assert_eq!(c.pidfile.to_str(), Some("/run/heartbeatd.pid"));
    assert_eq!(c.control_socket.to_str(), Some("/run/heartbeatd.sock"));
    assert!(c.command_line);
    let (mode, c) =
        run(h, &["-x", "-p", "1700", "-mhello world", "-L", "local3", "198.18.0.255", "198.19.0.255"]);
    assert_eq!(mode, RunMode::NoFork);
    assert_eq!(
        (c.port, c.legacy_message.as_str(), c.syslog_facility.as_str()),
        (1700, "hello world", "local3")
    );
    assert_eq!(run(h, &["-d", "198.18.0.255", "198.19.0.255"]).0, RunMode::Debug);
    assert_eq!(run(h, &["-n", "--", "198.18.0.255", "198.19.0.255"]).0, RunMode::Check);
    assert_eq!(run(h, &["-dd", "198.18.0.255", "198.19.0.255"]).0, RunMode::Debug);
    assert_eq!(parse(h, &args(&["-h"])), Parsed::Help);
    assert_eq!(parse(h, &args(&["-v"])), Parsed::Version);
    assert_eq!(parse(h, &args(&["status", "--json"])), Parsed::Control { request: "status --json".into() });
}

#[test]
fn failoverd_synopsis() {
    let f = Personality::Failoverd;
    let (mode, c) = run(f, &["-d", "-p", "1695", "198.19.0.1", "en0:198.18.0.10/24", "en0:198.18.0.11"]);
    assert_eq!(mode, RunMode::Debug);
    assert_eq!(c.role, Role::Secondary);
    assert_eq!((c.mode, c.legacy_heartbeat, c.port), (Mode::Static, Legacy::Yes, 1695));
    assert_eq!(c.peer, Some("198.19.0.1".parse().unwrap()));
    let a: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(a, ["en0:198.18.0.10/24", "en0:198.18.0.11/32"]);
    assert_eq!(c.network(NetId::Public).dest, "198.18.0.255".parse::<IpAddr>().unwrap());
    assert_eq!(c.state_dir.to_str(), Some("/var/lib/failoverd"));
    assert_eq!(parse(f, &args(&["takeover"])), Parsed::Control { request: "takeover".into() });
    assert_eq!(parse(f, &args(&["release"])), Parsed::Control { request: "release".into() });
}

#[test]
fn usage_errors() {
    let (h, f) = (Personality::Heartbeatd, Personality::Failoverd);
    assert!(bad(h, &["-d", "-n", "198.18.0.255", "198.19.0.255"]).contains("exclude"));
    assert!(bad(h, &["198.18.0.255"]).contains("two broadcast addresses"));
    assert!(bad(h, &["a", "b", "c"]).contains("got 3"));
    assert!(bad(h, &["-p"]).contains("-p needs a value"));
    assert!(bad(h, &["-q", "a", "b"]).contains("unknown option -q"));
    assert!(bad(h, &["-m", "say \"hi\"", "a", "b"]).contains("quotes"));
    assert!(bad(h, &["takeover"]).contains("unexpected"));
    assert!(bad(f, &["-m", "x", "198.19.0.1", "en0:198.18.0.10"]).contains("unknown option -m"));
    assert!(bad(f, &["198.19.0.1"]).contains("interface:address"));
    assert!(bad(f, &[]).contains("private address"));
    assert!(bad(f, &["status", "--yaml"]).contains("unexpected"));
}

#[test]
fn bad_values_name_the_program_not_a_line() {
    let text = match parse(Personality::Failoverd, &args(&["-p", "0", "198.19.0.1", "en0:198.18.0.300/24"])) {
        Parsed::Run { text, .. } => text,
        other => panic!("{other:?}"),
    };
    let errs = config(Personality::Failoverd, &text, &Fake).unwrap_err();
    let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(shown.iter().all(|e| e.starts_with("failoverd: ")), "{shown:?}");
    assert!(shown.iter().any(|e| e.contains("port")), "{shown:?}");
    assert!(shown.iter().any(|e| e.contains("198.18.0.300")), "{shown:?}");
}

#[test]
fn random_arguments_never_panic() {
    let words = [
        "-d",
        "-n",
        "-x",
        "-p",
        "-m",
        "-L",
        "-",
        "--",
        "1694",
        "198.18.0.255",
        "en0:1.2.3.4/8",
        "\"",
        "status",
        "",
    ];
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..5000 {
        let mut a = Vec::new();
        for _ in 0..(x % 6) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            a.push(words[(x as usize) % words.len()]);
        }
        x = x.wrapping_add(1);
        for p in [Personality::Heartbeatd, Personality::Failoverd] {
            if let Parsed::Run { text, .. } = parse(p, &args(&a)) {
                let _ = config(p, &text, &Fake);
            }
        }
    }
}
