//! Issue 17 with a real service: an HTTP server (python3 -m http.server)
//! on both nodes, the shipped check (scripts/examples/check-http) against
//! it, and a client that asks the service address who answers. Stopping
//! the service on the primary moves the address to the secondary; stopping
//! it on both moves nothing and mails once. The real binary runs in
//! network namespaces; see tests/common.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);
const TIMING: &str = "interval = 100ms\ndead_after = 400ms\nrecover_after = 400ms\ngarp_interval = 20ms";
const CHECK_INTERVAL_MS: u64 = 200;
const CHECK_FALL: u64 = 2;

/// Starts `python3 -m http.server` on `node`, serving a page that names it.
fn http_server(tb: &mut Testbed, node: Node, name: &str) -> u32 {
    let dir = tb.dir.join(format!("www-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("who"), name).unwrap();
    let log = tb.dir.join(format!("http-{name}.log"));
    let d = dir.to_str().unwrap().to_string();
    let pid = tb.spawn(
        node,
        &["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", &d],
        &log,
    );
    // Listening?
    let url = "http://127.0.0.1:8080/who";
    let start = Instant::now();
    while !tb.exec(node, &["python3", "-c", GET_ONCE, url]).contains(name) {
        assert!(start.elapsed() < 10 * S, "the HTTP server on {name} does not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    pid
}

/// One GET with a short timeout; prints the body or nothing.
const GET_ONCE: &str = r#"
import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=0.3).read().decode())
except Exception as e:
    print('none', e)
"#;

/// Asks every 10 ms until `want` answers; prints the ms it took.
const GET_UNTIL: &str = r#"
import sys, time, urllib.request
url, want, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
start = time.monotonic()
while time.monotonic() - start < limit:
    try:
        if urllib.request.urlopen(url, timeout=0.05).read().decode() == want:
            print('answered', round((time.monotonic() - start) * 1000))
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.01)
print('timeout')
sys.exit(1)
"#;

fn check(tb: &Testbed) -> String {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/examples/check-http");
    let dst = tb.dir.join("checks").join("check-http");
    tb.script(&dst, &std::fs::read_to_string(src).unwrap());
    format!(
        "check = web {} 127.0.0.1 8080 /who\ncheck_interval = {CHECK_INTERVAL_MS}ms\ncheck_timeout = 150ms\ncheck_fall = {CHECK_FALL}\ncheck_rise = 2\n",
        dst.display()
    )
}

fn start(tb: &mut Testbed) -> (Daemon, Daemon, u32, u32) {
    let hp = http_server(tb, Node::Primary, "primary");
    let hs = http_server(tb, Node::Secondary, "secondary");
    let extra = format!("{TIMING}\n{}", check(tb));
    let (p, s) = tb.start_pair(&extra, &extra);
    assert!(tb.holds(Node::Primary));
    (p, s, hp, hs)
}

/// The service dies on the primary: a client of the service address is
/// answered by the secondary within check_fall x check_interval + one
/// interval + a few ms (plus the client's own 10 ms polling and python's
/// start). Never two owners.
#[test]
fn scenario_service_dies_on_the_primary_and_the_secondary_answers() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s, hp, _hs) = start(&mut tb);
    let w = tb.watch_ownership();
    let t0 = Instant::now();
    tb.signal(hp, "KILL");
    let url = format!("http://{SERVICE}:8080/who");
    let out = tb.exec(Node::Client, &["python3", "-c", GET_UNTIL, &url, "secondary", "5"]);
    let took = t0.elapsed();
    assert!(out.contains("answered"), "{out}");
    let bound = Duration::from_millis(CHECK_FALL * CHECK_INTERVAL_MS + CHECK_INTERVAL_MS + 100 + 300);
    println!("service death to answer: {took:?} (client says {}; bound {bound:?})", out.trim());
    assert!(took < bound, "{took:?} > {bound:?}");
    wait_log(&p.log, "-> unfit (service-check-failed)", 5 * S);
    wait_log(&s.log, "(service-check-failed)", 5 * S);
    tb.wait_mail("handed", 5 * S);
    let (overlap, _) = w.overlap();
    assert!(overlap < Duration::from_millis(1), "both held the address for {overlap:?}");
}

/// Dead on both: nothing moves and the primary mails once that there is
/// no fit standby.
#[test]
fn scenario_service_dies_on_both_and_nothing_moves() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, _s, hp, hs) = start(&mut tb);
    tb.signal(hs, "KILL");
    wait_log(&p.log, "secondary's service checks fail", 5 * S);
    tb.signal(hp, "KILL");
    wait_log(&p.log, "service DOWN here", 5 * S);
    std::thread::sleep(2 * S);
    assert!(tb.holds(Node::Primary) && !tb.holds(Node::Secondary), "nothing may move");
    let mails = tb.mails().into_iter().filter(|m| m.contains("service DOWN here")).count();
    assert_eq!(mails, 1, "one mail");
}

/// The primary dies while the secondary's own service is down: no takeover
/// (check_gates_takeover) until the secondary's check passes.
#[test]
fn scenario_service_unfit_secondary_waits_for_its_checks_before_taking_over() {
    let Some(mut tb) = Testbed::new() else { return };
    let (_p, s, _hp, hs) = start(&mut tb);
    tb.signal(hs, "KILL");
    wait_log(&s.log, "fitness: unfit", 5 * S);
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "NOT taking over yet", 5 * S);
    std::thread::sleep(S);
    assert!(!tb.holds(Node::Secondary), "an unfit secondary must not take over");
    http_server(&mut tb, Node::Secondary, "secondary");
    wait_log(&s.log, "-> holding", 10 * S);
    assert!(tb.holds(Node::Secondary));
}
