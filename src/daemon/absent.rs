//! Start-up with an interface that does not exist (issue 30, item 5). One
//! that comes later is legitimate (hot-plug, a slow udev rename), one that
//! never comes is a node that cannot serve: the start waits at most
//! `interface_wait` for every interface the file names, saying so at once
//! in the log and in `status`, and then fails loudly: an error, a mail, and
//! exit status 1 (the start command's, or systemd's, which has not been
//! told READY=1). See ipfailoverd(8), START.

use super::control::{Asked, Format, Request};
use crate::config::{Config, NetId};
use crate::log;
use std::time::{Duration, Instant};

/// How often the start looks for the interfaces while it waits.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// One interface the file names that this host does not have (yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Absent {
    pub ifname: String,
    /// `network public`, `address 198.18.0.10`.
    pub what: String,
    pub line: usize,
}

/// The interfaces the configuration names that do not exist, each once,
/// in the order of the file (networks first). `exists` is this
/// namespace's answer (the kernel's name lookup), a parameter for the tests.
pub(super) fn absent(cfg: &Config, exists: &dyn Fn(&str) -> bool) -> Vec<Absent> {
    let mut out: Vec<Absent> = Vec::new();
    let mut add = |ifname: &str, what: String, line: usize| {
        if !exists(ifname) && !out.iter().any(|a| a.ifname == ifname) {
            out.push(Absent { ifname: ifname.to_string(), what, line });
        }
    };
    for id in NetId::ALL {
        let n = cfg.network(id);
        add(n.interface.as_str(), format!("network {}", id.as_str()), cfg.line_of_network(id));
    }
    for (i, a) in cfg.addresses.iter().enumerate() {
        add(a.interface.as_str(), format!("address {}", a.addr), cfg.line_of_address(i));
    }
    out
}

/// Said on the operator's terminal before the start command detaches
/// (from then on the log goes to syslog): the command waits, and why.
pub(super) fn tell_terminal(cfg: &Config) {
    let list = absent(cfg, &exists);
    if !list.is_empty() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "ipfailoverd: interface {} does not exist: waiting up to {} (interface_wait) for it, then the \
             start fails (the log says which)",
            names(&list),
            crate::timefmt::secs(cfg.interface_wait)
        );
    }
}

/// Whether this host has the interface `ifname`.
pub(super) fn exists(ifname: &str) -> bool {
    // The kernel's own lookup in this process's network namespace, not
    // /sys/class/net: sysfs lists the namespace of whoever mounted it,
    // which in a container joined to another one (systemd-nspawn
    // --network-namespace-path=, tests/scenario_systemd.rs) is not ours.
    // A lookup that fails otherwise (no socket) does not hold the start:
    // the bind that follows says what is wrong.
    match crate::sys::net::if_index(ifname) {
        Ok(_) => true,
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

fn names(list: &[Absent]) -> String {
    list.iter().map(|a| format!("{} ({}, line {})", a.ifname, a.what, a.line)).collect::<Vec<_>>().join(", ")
}

/// What `status` answers while the start waits.
pub(super) fn status(list: &[Absent], left: Duration, format: Format) -> Result<String, String> {
    let secs = crate::timefmt::secs(left);
    match format {
        Format::Text => Ok(format!(
            "state: starting\nwaiting: interface {} does not exist; the start fails in {secs} unless it appears\n",
            names(list)
        )),
        Format::Json => {
            let ifs: Vec<String> = list.iter().map(|a| format!("\"{}\"", a.ifname)).collect();
            Ok(format!(
                "{{\"state\":\"starting\",\"missing_interfaces\":[{}],\"fails_in_ms\":{}}}\n",
                ifs.join(","),
                left.as_millis()
            ))
        }
        Format::Prometheus => Err(format!("starting: waiting for interface {}", names(list))),
    }
}

/// The message of a start that gave up.
pub(super) fn failure(cfg: &Config, list: &[Absent]) -> String {
    format!(
        "{}: interface {} did not appear within interface_wait ({}): not started, this node cannot serve; \
         correct the interface name in the file (see `ip -br link`), or raise interface_wait if the \
         interface comes up later",
        cfg.file,
        names(list),
        crate::timefmt::secs(cfg.interface_wait)
    )
}

/// How the wait ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Waited {
    /// Every interface exists: the start goes on.
    Present,
    /// SIGTERM or SIGINT during the wait: a clean stop, nothing held.
    Stopped,
    /// `interface_wait` passed: the interfaces still missing.
    GaveUp(Vec<Absent>),
}

/// What reached the start while it waits, as far as the wait cares (the
/// start keeps anything else for the monitor, `start.rs`).
#[derive(Debug)]
pub(super) enum Meanwhile {
    /// A control request: answered at once.
    Asked(Asked),
    /// SIGTERM or SIGINT.
    Stop,
    /// Nothing for the wait within the time given.
    Nothing,
    /// Every sender is gone.
    Gone,
}

/// Waits until every interface the file names exists, at most
/// `cfg.interface_wait`, answering control requests (`status` says what
/// the start waits for) and stopping on SIGTERM or SIGINT. Only the
/// control and signal threads run yet; `next(within)` says what they sent
/// within that time (other signals wait for the monitor).
pub(super) fn wait(cfg: &Config, mut next: impl FnMut(Duration) -> Meanwhile) -> Waited {
    let mut list = absent(cfg, &exists);
    if list.is_empty() {
        return Waited::Present;
    }
    let start = Instant::now();
    // systemd hears no READY=1 meanwhile; its start timeout (90 s by
    // default) must not end the wait before interface_wait does.
    let extend = cfg.interface_wait + Duration::from_secs(30);
    super::sdnotify::notify(&format!(
        "EXTEND_TIMEOUT_USEC={}\nSTATUS=waiting for interface {}",
        extend.as_micros(),
        names(&list)
    ));
    log::error!(
        "interface {} does not exist: waiting up to {} (interface_wait) for it to appear, then the start \
         fails",
        names(&list),
        crate::timefmt::secs(cfg.interface_wait)
    );
    loop {
        list = absent(cfg, &exists);
        if list.is_empty() {
            log::notice!("every interface exists after {}: starting", crate::timefmt::secs(start.elapsed()));
            return Waited::Present;
        }
        let left = cfg.interface_wait.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Waited::GaveUp(list);
        }
        match next(left.min(LOOK_EVERY)) {
            Meanwhile::Asked(Asked { request, reply }) => {
                let answer = match request {
                    Request::Status(format) => status(&list, left, format),
                    _ => Err(format!("the daemon is starting: waiting for interface {}", names(&list))),
                };
                let _ = reply.send(answer);
            }
            Meanwhile::Stop => {
                log::notice!("stopped while waiting for interface {}", names(&list));
                return Waited::Stopped;
            }
            Meanwhile::Nothing => {}
            Meanwhile::Gone => return Waited::Stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, IfName, SystemView};
    use std::net::IpAddr;

    struct NoLookups;
    impl SystemView for NoLookups {
        fn interface_for(&self, _: IpAddr) -> Option<IfName> {
            None
        }
    }

    fn cfg(wait: &str) -> Config {
        let text = format!(
            "role = secondary\nnetwork = public eht0 198.18.0.255\nnetwork = private priv0 198.19.0.255\n\
             peer = 198.19.0.1\naddress = eht0:198.18.0.10/24\naddress = pub1:198.18.0.11/24\n{wait}"
        );
        parse(&text, "t.conf", &NoLookups).unwrap()
    }

    #[test]
    fn every_missing_interface_once_with_its_first_line() {
        let c = cfg("");
        assert_eq!(c.interface_wait, Duration::from_secs(60), "the default");
        let list = absent(&c, &|name| name == "priv0");
        assert_eq!(
            list,
            vec![
                Absent { ifname: "eht0".into(), what: "network public".into(), line: 2 },
                Absent { ifname: "pub1".into(), what: "address 198.18.0.11".into(), line: 6 },
            ]
        );
        assert!(absent(&c, &|_| true).is_empty());
    }

    #[test]
    fn status_and_failure_name_the_interface_the_line_and_the_fix() {
        let c = cfg("interface_wait = 5s\n");
        let list = absent(&c, &|name| name != "eht0");
        let text = status(&list, Duration::from_millis(2500), Format::Text).unwrap();
        assert_eq!(
            text,
            "state: starting\nwaiting: interface eht0 (network public, line 2) does not exist; the start \
             fails in 2.5s unless it appears\n"
        );
        let json = status(&list, Duration::from_millis(2500), Format::Json).unwrap();
        assert_eq!(json, "{\"state\":\"starting\",\"missing_interfaces\":[\"eht0\"],\"fails_in_ms\":2500}\n");
        assert!(status(&list, Duration::ZERO, Format::Prometheus).is_err());
        let why = failure(&c, &list);
        assert!(
            why.starts_with(
                "t.conf: interface eht0 (network public, line 2) did not appear within interface_wait (5.0s)"
            ),
            "{why}"
        );
        assert!(why.contains("ip -br link"), "{why}");
    }

    #[test]
    fn waits_no_longer_than_interface_wait_and_answers_status_meanwhile() {
        let c = cfg("interface_wait = 300ms\n");
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let (reply, answer) = std::sync::mpsc::channel();
        tx.send(Meanwhile::Asked(Asked { request: Request::Status(Format::Text), reply })).unwrap();
        // What the start keeps for the monitor (a SIGHUP) is nothing to the wait.
        tx.send(Meanwhile::Nothing).unwrap();
        let next = |within| match rx.recv_timeout(within) {
            Ok(m) => m,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Meanwhile::Nothing,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Meanwhile::Gone,
        };
        let start = Instant::now();
        let waited = wait(&c, next);
        let took = start.elapsed();
        eprintln!("gave up after {took:?} (interface_wait 300ms)");
        assert!(matches!(&waited, Waited::GaveUp(l) if l.iter().any(|a| a.ifname == "eht0")), "{waited:?}");
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(10), "{took:?}");
        assert!(answer.recv().unwrap().unwrap().contains("waiting: interface eht0"));
        // SIGTERM ends the wait at once.
        tx.send(Meanwhile::Stop).unwrap();
        assert_eq!(wait(&cfg("interface_wait = 3600s\n"), next), Waited::Stopped);
    }
}
