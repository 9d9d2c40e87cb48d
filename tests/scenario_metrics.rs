//! metrics_listen (issue 18): a pair in namespaces scraped by hand and by
//! a real Prometheus server, which must see the service address move from
//! the primary to the secondary; and a hostile HTTP client that must not
//! delay a failover. Needs `prometheus` and `promtool` (Debian package
//! `prometheus`, installed by scripts/test). Figures are printed
//! (`--nocapture`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/examples/prometheus");

/// The Prometheus tools, or a failure that says how to get them: a
/// missing package must not pass as a skipped test.
fn tool(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install the Debian package prometheus (apt-get install prometheus; scripts/test does)",
        path.display()
    );
    path
}

/// One HTTP request from inside `node`'s namespace: (status line, body).
/// A refused connection is an empty status line (Prometheus starting).
fn http(tb: &Testbed, node: Node, addr: &str, path: &str) -> (String, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", &tb.ns(node)])
        .arg(netool_bin())
        .args(["http", addr, path])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

fn scrape(tb: &Testbed, node: Node, addr: &str) -> String {
    let (status, body) = http(tb, node, addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    body
}

/// `promtool check metrics` on a text, which it reads on stdin.
fn promtool_check_metrics(text: &str) {
    use std::io::Write;
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
}

/// The samples of a scrape worth reading in a report: not the zeros.
fn excerpt(text: &str) -> String {
    let keep = |l: &&str| {
        !l.starts_with('#')
            && !l.ends_with(" 0")
            && !l.contains("_bucket{")
            && !l.starts_with("ipfailoverd_heartbeats_rejected_total")
    };
    text.lines().filter(keep).collect::<Vec<_>>().join("\n")
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The value Prometheus has for `ipfailoverd_address_held` of each
/// instance, from its query API's JSON (read without a JSON library:
/// one `{"metric":{...},"value":[t,"v"]}` per series).
fn held_by_instance(json: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in json.split("{\"metric\":").skip(1) {
        let instance = part.split("\"instance\":\"").nth(1).and_then(|r| r.split('"').next());
        let value = part.split("\"value\":[").nth(1).and_then(|r| r.split('"').nth(1));
        if let (Some(i), Some(v)) = (instance, value) {
            out.push((i.to_string(), v.to_string()));
        }
    }
    out.sort();
    out
}

const PRIMARY_METRICS: &str = "198.19.0.1:9101";
const SECONDARY_METRICS: &str = "198.19.0.2:9101";

fn wait_held(tb: &Testbed, want: &[(&str, &str)], timeout: Duration) -> (Duration, String) {
    let t0 = Instant::now();
    let want: Vec<(String, String)> = want.iter().map(|(i, v)| (i.to_string(), v.to_string())).collect();
    loop {
        let (status, body) =
            http(tb, Node::Secondary, "127.0.0.1:9090", "/api/v1/query?query=ipfailoverd_address_held");
        if status.contains("200") && held_by_instance(&body) == want {
            return (t0.elapsed(), body);
        }
        assert!(
            t0.elapsed() < timeout,
            "Prometheus did not see {want:?} in {timeout:?}; last answer: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Both nodes scraped by hand (checked by promtool) and by a real
/// Prometheus with the example alert rules, in the secondary's namespace,
/// over the private network; the primary's public cable is pulled (it
/// hands over at once, reason primary-public-down, and stays scrapable):
/// Prometheus sees the address move, and the takeover alert fires.
#[test]
fn scenario_metrics_prometheus_sees_the_address_move() {
    let (prometheus, promtool) = (tool("prometheus"), tool("promtool"));
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair(
        &format!("metrics_listen = {PRIMARY_METRICS}"),
        &format!("metrics_listen = {SECONDARY_METRICS}"),
    );

    let before =
        [scrape(&tb, Node::Secondary, PRIMARY_METRICS), scrape(&tb, Node::Secondary, SECONDARY_METRICS)];
    for text in &before {
        promtool_check_metrics(text);
    }
    let held = format!("ipfailoverd_address_held{{address=\"{SERVICE}\",interface=\"pub0\"}}");
    assert_eq!(value(&before[0], &held), Some(1.0), "{}", before[0]);
    assert_eq!(value(&before[1], &held), Some(0.0), "{}", before[1]);
    assert_eq!(value(&before[0], "ipfailoverd_state{state=\"active\"}"), Some(1.0));
    assert_eq!(value(&before[1], "ipfailoverd_state{state=\"watching\"}"), Some(1.0));
    assert_eq!(value(&before[1], "ipfailoverd_peer_heard{network=\"private\"}"), Some(1.0));
    // status --prometheus says the same through the control socket.
    let (code, text) = ctl(&tb.dir.join("s.conf"), &["status", "--prometheus"]);
    assert_eq!(code, 0, "{text}");
    promtool_check_metrics(&text);
    assert_eq!(value(&text, &held), Some(0.0));
    let names = |t: &str| t.lines().filter(|l| l.starts_with("# TYPE")).map(String::from).collect::<Vec<_>>();
    assert_eq!(names(&text), names(&before[1]));
    // Anything but GET or HEAD /metrics is refused.
    assert!(http(&tb, Node::Secondary, PRIMARY_METRICS, "/").0.contains(" 404 "));
    let tool_path = netool_bin();
    let post =
        tb.exec(Node::Secondary, &[tool_path.to_str().unwrap(), "http", PRIMARY_METRICS, "/metrics", "POST"]);
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

    // The operator's example configuration, pointed at the testbed.
    let dir = tb.dir.join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(Path::new(EXAMPLES).join("ipfailoverd.rules.yml"), dir.join("ipfailoverd.rules.yml"))
        .unwrap();
    let config = std::fs::read_to_string(Path::new(EXAMPLES).join("prometheus.yml"))
        .unwrap()
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace("scrape_interval: 5s", "scrape_interval: 1s")
        .replace("scrape_timeout: 4s", "scrape_timeout: 900ms");
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let check =
        Command::new(&promtool).args(["check", "config"]).arg(dir.join("prometheus.yml")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let started = Instant::now();
    let config_arg = format!("--config.file={}", dir.join("prometheus.yml").display());
    let tsdb_arg = format!("--storage.tsdb.path={}", dir.join("data").display());
    tb.spawn(
        Node::Secondary,
        &[
            prometheus.to_str().unwrap(),
            &config_arg,
            &tsdb_arg,
            "--web.listen-address=127.0.0.1:9090",
            "--log.level=warn",
        ],
        &tb.dir.join("prometheus.log"),
    );
    let (_, body) = wait_held(&tb, &[(PRIMARY_METRICS, "1"), (SECONDARY_METRICS, "0")], 30 * S);
    println!("Prometheus up and scraping both nodes after {:?}: {body}", started.elapsed());

    let (pulled, pulled_ms) = (Instant::now(), now_ms_of_day());
    tb.cable(Node::Primary, "pub", false);
    wait_log(&s.log, "acquiring -> holding", 5 * S);
    let held_ms = log_ms(&s.log, "acquiring -> holding").unwrap() - pulled_ms;
    let _ = wait_held(&tb, &[(PRIMARY_METRICS, "0"), (SECONDARY_METRICS, "1")], 15 * S);
    println!(
        "cable pulled: the secondary held the address after {held_ms} ms; Prometheus showed it moved after {:?}",
        pulled.elapsed()
    );
    assert!(log_has(&s.log, "(primary-public-down)"), "not the handover this test pulls for");

    // The example rules: the takeover alert fires.
    let t0 = Instant::now();
    loop {
        let (_, alerts) = http(&tb, Node::Secondary, "127.0.0.1:9090", "/api/v1/alerts");
        if alerts.contains("\"alertname\":\"IpfailoverdTakeover\"") && alerts.contains("\"state\":\"firing\"")
        {
            println!("Prometheus alerts: {alerts}");
            break;
        }
        assert!(t0.elapsed() < 15 * S, "no IpfailoverdTakeover alert: {alerts}");
        std::thread::sleep(Duration::from_millis(300));
    }

    let after =
        [scrape(&tb, Node::Secondary, PRIMARY_METRICS), scrape(&tb, Node::Secondary, SECONDARY_METRICS)];
    for text in &after {
        promtool_check_metrics(text);
    }
    assert_eq!(value(&after[0], &held), Some(0.0));
    assert_eq!(value(&after[1], &held), Some(1.0));
    assert_eq!(value(&after[1], "ipfailoverd_takeovers_total"), Some(1.0));
    assert_eq!(value(&after[1], "ipfailoverd_transitions_total{reason=\"primary-public-down\"}"), Some(1.0));
    assert_eq!(
        value(&after[1], "ipfailoverd_moves_total{direction=\"acquire\",outcome=\"done\"}"),
        Some(1.0)
    );
    assert_eq!(value(&after[0], "ipfailoverd_state{state=\"public-down\"}"), Some(1.0));
    assert_eq!(value(&after[0], "ipfailoverd_link_up{network=\"public\",interface=\"pub0\"}"), Some(0.0));
    // The takeover mail went to the fake sendmail.
    let t0 = Instant::now();
    while value(&scrape(&tb, Node::Secondary, SECONDARY_METRICS), "ipfailoverd_mails_handed_over_total")
        < Some(1.0)
    {
        assert!(t0.elapsed() < 10 * S, "no mail counted as handed over");
        std::thread::sleep(Duration::from_millis(200));
    }
    for (when, texts) in [("before", &before), ("after", &after)] {
        for (node, text) in ["primary", "secondary"].iter().zip(texts.iter()) {
            println!("---- scrape of the {node} {when} the takeover (non-zero samples)\n{}", excerpt(text));
        }
    }
    let _ = p;
}

/// 1000 idle connections (reopened as the daemon closes them) and a
/// stream of garbage requests against the secondary's metrics_listen do
/// not delay its takeover: measured from the cables pulled to the
/// `acquiring` line of its log, without and then with them.
#[test]
fn scenario_metrics_hostile_clients_do_not_delay_failover() {
    let Some(mut tb) = Testbed::new() else { return };
    let metrics = "198.18.0.2:9101";
    let (p, s) = tb.start_pair("metrics_listen = 198.18.0.1:9101", &format!("metrics_listen = {metrics}"));
    let failover = |tb: &mut Testbed, from: usize| -> i64 {
        let pulled = now_ms_of_day();
        tb.fall_off(Node::Primary);
        let needle = "-> acquiring (both-networks-silent)";
        let t0 = Instant::now();
        loop {
            let text = std::fs::read_to_string(&s.log).unwrap();
            if let Some(line) = text[from..].lines().find(|l| l.contains(needle)) {
                let at = log_ms_of(line).unwrap();
                wait_log_from(&s.log, from, "acquiring -> holding", 5 * S);
                return at - pulled;
            }
            assert!(t0.elapsed() < 5 * S, "no takeover");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let quiet = failover(&mut tb, 0);
    assert_eq!(tb.who_answers(), "secondary");
    // Back to the start: the primary claims its address again.
    let mark_p = std::fs::metadata(&p.log).unwrap().len() as usize;
    tb.cable(Node::Primary, "priv", true);
    tb.cable(Node::Primary, "pub", true);
    wait_log_from(&p.log, mark_p, "acquiring -> active", 10 * S);
    let mark = std::fs::metadata(&s.log).unwrap().len() as usize;
    wait_log(&s.log, "releasing -> watching", 5 * S);

    let (cpu0, wall0, rss0) = (cpu_ticks(s.pid), Instant::now(), vm_rss_kb(s.pid));
    let hold_log = tb.dir.join("hold.log");
    let tool = netool_bin();
    let cmd = format!("ulimit -n 4096 && exec {} hold {metrics} 1000 12", tool.display());
    let hold = tb.spawn(Node::Client, &["sh", "-c", &cmd], &hold_log);
    wait_log(&hold_log, "open=", 10 * S);
    std::thread::sleep(2 * S);
    // A scrape finds no room, and is told so at once.
    let t0 = Instant::now();
    let (busy, _) = http(&tb, Node::Client, metrics, "/metrics");
    let took = t0.elapsed();
    println!("a scrape during the attack: {busy:?} after {took:?}");
    assert!(busy.is_empty() || busy.starts_with("HTTP/1.1 503 "), "{busy}");
    assert!(took < S, "a refused scrape took {took:?}");
    let loaded = failover(&mut tb, mark);
    assert_eq!(tb.wait_exit(hold, 20 * S), Some(0));
    let cpu = (cpu_ticks(s.pid) - cpu0) as f64 / 100.0 / wall0.elapsed().as_secs_f64() * 100.0;
    let rss = vm_rss_kb(s.pid);
    println!("secondary's CPU during the attack: {cpu:.1}% of one core; resident memory {rss0} kB before, {rss} kB after");
    assert!(rss < rss0 + 8 * 1024, "memory grew from {rss0} kB to {rss} kB");
    println!("hostile client: {}", std::fs::read_to_string(&hold_log).unwrap().trim().replace('\n', "; "));
    println!("failover (cables pulled -> acquiring): {quiet} ms without, {loaded} ms with 1000 idle connections and garbage (dead_after 600 ms)");
    // Pulled up to one interval (200 ms) after the last heartbeat, then
    // dead_after and a 50 ms probe: 450 to 650 ms, plus scheduling.
    assert!(loaded < 900, "failover took {loaded} ms under attack, {quiet} ms without");
    // The endpoint serves again once the attack is over.
    let (status, body) = http(&tb, Node::Client, metrics, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("ipfailoverd_state{state=\"holding\"} 1"), "{body}");
}

/// `utime + stime` of a process, in clock ticks (`/proc/<pid>/stat`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An address that cannot be bound stops the start, named by its line.
#[test]
fn scenario_metrics_unbindable_address_stops_the_start() {
    let Some(mut tb) = Testbed::new() else { return };
    let d = tb.start_daemon(Node::Primary, "metrics_listen = 198.18.0.99:9101");
    assert_eq!(tb.wait_exit(d.pid, 5 * S), Some(1));
    let log = std::fs::read_to_string(&d.log).unwrap();
    let conf = tb.dir.join("p.conf");
    let line = std::fs::read_to_string(&conf)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("metrics_listen"))
        .unwrap()
        + 1;
    let want = format!("{}:{line}: metrics_listen 198.18.0.99:9101: cannot listen: ", conf.display());
    println!("{}", log.trim());
    assert!(log.contains(&want) && log.contains("no interface of this host has that address"), "{log}");
}

/// The example rules pass `promtool check rules` and their own unit
/// tests (`promtool test rules`), as shipped.
#[test]
fn scenario_metrics_example_rules() {
    let promtool = tool("promtool");
    for args in [["check", "rules", "ipfailoverd.rules.yml"], ["test", "rules", "ipfailoverd.rules.test.yml"]]
    {
        let out = Command::new(&promtool).args(args).current_dir(EXAMPLES).output().unwrap();
        let said =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool {}: {said}", args.join(" "));
    }
}

/// `wait_log` for text written after byte `from`.
fn wait_log_from(path: &Path, from: usize, needle: &str, timeout: Duration) {
    let t0 = Instant::now();
    while !std::fs::read_to_string(path).unwrap_or_default().get(from..).unwrap_or("").contains(needle) {
        assert!(t0.elapsed() < timeout, "'{needle}' not in {} after {timeout:?}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Milliseconds since midnight of one log line (the format of `log_ms`).
fn log_ms_of(line: &str) -> Option<i64> {
    let t = line.get(11..23)?;
    let field = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    Some(((field(0..2)? * 60 + field(3..5)?) * 60 + field(6..8)?) * 1000 + field(9..12)?)
}
