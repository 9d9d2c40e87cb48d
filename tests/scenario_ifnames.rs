//! Scenario tests (issue 28): a public interface whose name leaves no room
//! for an alias label. `<ifname>:<n>` must fit in 15 bytes, so on a USB
//! NIC's `enx0c37965ad2a4` the ioctls cannot add a second address; the
//! daemon adds it through netlink without a label and removes exactly that
//! address again; a restart finds it and adopts it. What must hold is what a client sees: the service
//! address answers from the right node through a failover and a failback,
//! and nothing is left on the interface after SIGTERM.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);

/// 15 bytes, the longest Linux allows: a USB NIC's predictable name.
const LONG: &str = "enx0c37965ad2a4";

/// The `ip -o addr` line of the service address on LONG of `node`, if any.
fn service_line(tb: &Testbed, node: Node) -> Option<String> {
    let out = tb.exec(node, &["ip", "-4", "-o", "addr", "show", "dev", LONG]);
    out.lines().find(|l| l.contains(&format!("inet {SERVICE}/24"))).map(str::to_string)
}

fn holds(tb: &Testbed, node: Node) -> bool {
    service_line(tb, node).is_some()
}

/// Polls until only `node` holds the service address; the time it took.
fn wait_sole_holder(tb: &Testbed, node: Node, timeout: Duration) -> Duration {
    let start = Instant::now();
    let other = if node == Node::Primary { Node::Secondary } else { Node::Primary };
    while start.elapsed() < timeout {
        if holds(tb, node) && !holds(tb, other) {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{node:?} does not hold {SERVICE} alone on {LONG} after {timeout:?}");
}

/// `node`'s configuration with its public interface called LONG.
fn config(tb: &Testbed, node: Node) -> PathBuf {
    let path = tb.config(node, "");
    let text = std::fs::read_to_string(&path).unwrap().replace("pub0", LONG);
    assert!(text.contains(&format!("network = public {LONG} ")), "{text}");
    assert!(text.contains(&format!("address = {LONG}:{SERVICE}/24")), "{text}");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts ipfailoverd on `node` in the foreground, logging to `<dir>/<log>`.
fn start(tb: &mut Testbed, node: Node, conf: &std::path::Path, log: &str) -> Daemon {
    let log = tb.dir.join(log);
    let bin = daemon_bin();
    let pid = tb.spawn(node, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    Daemon { log, pid }
}

#[test]
fn scenario_ifnames_a_15_byte_public_interface_fails_over_and_back() {
    let Some(mut tb) = Testbed::new() else { return };
    for node in [Node::Primary, Node::Secondary] {
        tb.rename_link(node, "pub0", LONG);
    }
    let (pc, sc) = (config(&tb, Node::Primary), config(&tb, Node::Secondary));

    // -n accepts the configuration on both nodes.
    let bin = daemon_bin();
    for (node, conf) in [(Node::Primary, &pc), (Node::Secondary, &sc)] {
        let (code, out) = tb.exec_status(node, &[bin.to_str().unwrap(), "-n", "-f", conf.to_str().unwrap()]);
        assert_eq!(code, 0, "-n on {node:?}: {out}");
    }

    // The primary serves: the address is on LONG under the interface's own
    // label (no alias label fits), and a client reaches the primary.
    tb.start_responders();
    let t0 = Instant::now();
    let p = start(&mut tb, Node::Primary, &pc, "p.log");
    wait_log(&p.log, "acquiring -> active", 10 * S);
    println!("primary active {:?} after its start", t0.elapsed());
    let line = service_line(&tb, Node::Primary).expect("the primary does not have the service address");
    let label = line.split('\\').next().unwrap_or("").split_whitespace().last().unwrap_or("");
    assert_eq!(label, LONG, "label of the service address: {line}");
    assert!(line.contains("brd 198.18.0.255"), "no broadcast address: {line}");
    assert!(log_has(&p.log, &format!("added {SERVICE}/24 on {LONG}")));
    assert_eq!(tb.who_answers(), "primary");
    let s = start(&mut tb, Node::Secondary, &sc, "s.log");
    wait_log(&s.log, "state starting -> watching", 5 * S);

    // The primary falls off both networks: the secondary takes over, and
    // the client (whose ARP entry the gratuitous ARP moves) reaches it.
    let fell = Instant::now();
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "acquiring -> holding", 5 * S);
    let took = wait_sole_holder(&tb, Node::Secondary, 5 * S);
    println!("secondary holds {SERVICE} {:?} after the primary fell off ({took:?} polling)", fell.elapsed());
    assert!(log_has(&s.log, &format!("added {SERVICE}/24 on {LONG}")));
    assert_eq!(tb.who_answers(), "secondary");

    // Killed and restarted, the secondary finds the label-less address on
    // its interface and adopts it: the client still reaches it.
    tb.signal(s.pid, "KILL");
    tb.wait_exit(s.pid, 5 * S);
    assert!(holds(&tb, Node::Secondary), "the address left with the killed secondary");
    let s = start(&mut tb, Node::Secondary, &sc, "s2.log");
    wait_log(&s.log, "-> holding (adopted)", 5 * S);
    assert!(holds(&tb, Node::Secondary));
    assert_eq!(tb.who_answers(), "secondary");

    // The primary returns and gets the address back: the secondary removes
    // its label-less copy, the primary adds its own.
    let back = Instant::now();
    tb.cable(Node::Primary, "pub", true);
    tb.cable(Node::Primary, "priv", true);
    wait_log(&p.log, "claiming -> acquiring (released)", 10 * S);
    wait_sole_holder(&tb, Node::Primary, 5 * S);
    println!("primary holds {SERVICE} again {:?} after its cables were plugged", back.elapsed());
    assert!(log_has(&s.log, &format!("removed {SERVICE}/24 from {LONG}")));
    assert!(!log_has(&s.log, "cannot remove"), "the secondary failed to remove the address");
    assert_eq!(tb.who_answers(), "primary");

    // SIGTERM: the secondary first (it holds nothing; a goodbye from the
    // primary would otherwise hand it the address), then the primary,
    // which removes the address: nothing is left on either interface.
    tb.signal(s.pid, "TERM");
    assert_eq!(tb.wait_exit(s.pid, 5 * S), Some(0), "the secondary did not stop");
    tb.signal(p.pid, "TERM");
    assert_eq!(tb.wait_exit(p.pid, 5 * S), Some(0), "the primary did not stop");
    assert!(log_has(&p.log, &format!("removed {SERVICE}/24 from {LONG}")));
    for node in [Node::Primary, Node::Secondary] {
        assert_eq!(service_line(&tb, node), None, "{SERVICE} left behind on {node:?}");
        // The interface's own address is untouched.
        let own = tb.exec(node, &["ip", "-4", "-o", "addr", "show", "dev", LONG]);
        assert_eq!(own.lines().count(), 1, "{node:?}: {own}");
    }
    assert_eq!(tb.who_answers(), "none");
}
