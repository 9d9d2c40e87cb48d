//! A two-server testbed in network namespaces (docs/design.md §8), for scenario tests:
//! the topology of `tests/support/testbed.rs` (the one definition, shared
//! with the scripts and the benchmark through `netool testbed`), plus what
//! the tests do on it: configurations, daemons, probes, cables.
//!
//! Pulling a cable is taking the switch side of a veth down, so the server
//! sees its carrier go. Everything is torn down in `Drop`, also when a test
//! fails; only processes started here are stopped, by PID.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[path = "../support/testbed.rs"]
pub mod topology;

pub const SERVICE: &str = "198.18.0.10";
pub const KEY: &str = "scenario-test-key-0123456789abcdef";
static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("spawn");
    assert!(out.status.success(), "{:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn daemon_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ipfailoverd"))
}

pub fn netool_bin() -> PathBuf {
    let bin = daemon_bin();
    bin.parent().unwrap().join("examples/netool")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Primary,
    Secondary,
    Client,
}

impl Node {
    fn tag(self) -> &'static str {
        match self {
            Node::Primary => "p",
            Node::Secondary => "s",
            Node::Client => "c",
        }
    }
}

pub struct Daemon {
    pub log: PathBuf,
    pub pid: u32,
}

pub struct Testbed {
    pub name: String,
    pub dir: PathBuf,
    children: Vec<Child>,
}

impl Testbed {
    /// A new testbed; `None` when this process may not build one: the
    /// scenario tests need root and network namespaces (docs/design.md §8). A plain
    /// `cargo test` as a normal user then skips them, saying so once per
    /// test program on the terminal; `scripts/test` (as root) sets
    /// `IPFAILOVER_SCENARIOS=required`, and there a missing privilege fails.
    pub fn new() -> Option<Testbed> {
        if !is_root() {
            let required = std::env::var("IPFAILOVER_SCENARIOS").is_ok_and(|v| v == "required");
            assert!(!required, "scenario tests need root (IPFAILOVER_SCENARIOS=required)");
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                // Not eprintln!: the test harness would capture it.
                let program = std::env::args().next().unwrap_or_default();
                let program = Path::new(&program).file_name().map(|f| f.to_string_lossy().into_owned());
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {}: scenario tests SKIPPED: they need root and network namespaces; \
                     run scripts/test as root for the whole suite",
                    program.unwrap_or_default()
                );
            });
            return None;
        }
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("ipft{}x{n}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // On failure `up` has deleted what it built: no Testbed, no Drop.
        if let Err(e) = topology::up(&name) {
            let _ = fs::remove_dir_all(&dir);
            panic!("testbed {name}: {e}");
        }
        Some(Testbed { name, dir, children: Vec::new() })
    }

    pub fn ns(&self, node: Node) -> String {
        topology::ns(&self.name, node.tag())
    }

    fn sw(&self) -> String {
        topology::ns(&self.name, topology::SWITCH)
    }

    /// Pulls (`false`) or plugs (`true`) a server's cable at the switch.
    pub fn cable(&self, node: Node, lan: &str, plugged: bool) {
        let port = format!("{}-{}", node.tag(), lan);
        let state = if plugged { "up" } else { "down" };
        sh(&["ip", "-n", &self.sw(), "link", "set", &port, state]);
    }

    /// The server falls off both networks: both cables pulled by one `ip
    /// -batch`, the private one first. Pulled one after the other, a
    /// primary that noticed its public link go before the private one did
    /// would hand its addresses over on the private network (reason
    /// primary-public-down), which is another scenario.
    pub fn fall_off(&self, node: Node) {
        let batch = format!("link set {0}-priv down\nlink set {0}-pub down\n", node.tag());
        let mut child = Command::new("ip")
            .args(["-n", &self.sw(), "-batch", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("ip -batch");
        child.stdin.take().unwrap().write_all(batch.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "ip -batch failed: {batch}");
    }

    pub fn exec(&self, node: Node, args: &[&str]) -> String {
        let ns = self.ns(node);
        let mut full = vec!["ip", "netns", "exec", ns.as_str()];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// Runs a command in a namespace to its end: (exit status, stdout and
    /// stderr), whether it succeeds or not.
    pub fn exec_status(&self, node: Node, args: &[&str]) -> (i32, String) {
        let out =
            Command::new("ip").args(["netns", "exec", &self.ns(node)]).args(args).output().expect("spawn");
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    /// Starts a program in a namespace; it is killed (by PID) in Drop.
    pub fn spawn(&mut self, node: Node, args: &[&str], log: &Path) -> u32 {
        let out = fs::File::create(log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn in namespace");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Writes a config for `node`; `extra` lines override the defaults.
    pub fn config(&self, node: Node, extra: &str) -> PathBuf {
        self.config_as(node, node.tag(), SERVICE, extra)
    }

    /// Writes `<dir>/<file>.conf` for one daemon on `node` whose service
    /// address is `service`, with its own state_dir, pidfile and control
    /// socket named after `file`: several daemons per node (one per pair,
    /// active/active) each get their own. `extra` lines override the
    /// defaults (role and peer follow the node unless overridden).
    pub fn config_as(&self, node: Node, file: &str, service: &str, extra: &str) -> PathBuf {
        let (role, peer) = match node {
            Node::Primary => ("primary", "198.19.0.2"),
            _ => ("secondary", "198.19.0.1"),
        };
        let state = self.dir.join(format!("state-{file}"));
        let key = self.dir.join("key");
        if !key.exists() {
            use std::os::unix::fs::PermissionsExt;
            fs::write(&key, KEY).unwrap();
            fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let text = format!(
            "role = {role}\n\
             network = public pub0 198.18.0.255\n\
             network = private priv0 198.19.0.255\n\
             peer = {peer}\n\
             address = pub0:{service}/24\n\
             interval = 200ms\n\
             dead_after = 600ms\n\
             recover_after = 600ms\n\
             garp_interval = 20ms\n\
             auth_key_file = {}\n\
             state_dir = {}\n\
             pidfile = {}/{}.pid\n\
             control_socket = {}/{}.sock\n\
             scripts_dir = {}/scripts\n\
             sendmail = {}/sendmail\n\
             {extra}\n",
            key.display(),
            state.display(),
            self.dir.display(),
            file,
            self.dir.display(),
            file,
            self.dir.display(),
            self.dir.display(),
        );
        self.fake_sendmail();
        let path = self.dir.join(format!("{file}.conf"));
        fs::write(&path, dedupe(&text)).unwrap();
        path
    }

    /// A sendmail that files each message in `<dir>/mail/`.
    fn fake_sendmail(&self) {
        let path = self.dir.join("sendmail");
        if path.exists() {
            return;
        }
        let mail = self.dir.join("mail");
        fs::create_dir_all(&mail).unwrap();
        let body = format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"-t -oi\" ] || exit 64\n\
             cat > {0}/.part.$$ && mv {0}/.part.$$ {0}/$(date +%s%N).$$\n",
            mail.display()
        );
        self.script(&path, &body);
    }

    /// Writes an executable root-owned script (mode 0755).
    pub fn script(&self, path: &Path, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, body).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Every mail the fake sendmail received, oldest first (a mail being
    /// written is not there yet: it is renamed into place when complete).
    pub fn mails(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = fs::read_dir(self.dir.join("mail"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.retain(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')));
        names.sort();
        names.iter().filter_map(|p| fs::read_to_string(p).ok()).collect()
    }

    /// The first mail containing `needle`, waiting for it up to `timeout`:
    /// the daemon hands a mail to sendmail after the transition it tells
    /// of, so it may not be there yet when the log line is.
    pub fn wait_mail(&self, needle: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Some(m) = self.mails().into_iter().find(|m| m.contains(needle)) {
                return m;
            }
            if Instant::now() >= end {
                let subjects: Vec<String> = self
                    .mails()
                    .iter()
                    .filter_map(|m| m.lines().find(|l| l.starts_with("Subject:")).map(String::from))
                    .collect();
                panic!("no mail containing {needle:?} after {timeout:?}; mails: {subjects:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts ipfailoverd on `node` in the foreground.
    pub fn start_daemon(&mut self, node: Node, extra: &str) -> Daemon {
        let conf = self.config(node, extra);
        let log = self.dir.join(format!("{}.log", node.tag()));
        let bin = daemon_bin();
        let pid = self.spawn(node, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
        Daemon { log, pid }
    }

    /// Starts one of several daemons on `node` (see `config_as`), in the
    /// foreground, logging to `<dir>/<file>.log`.
    pub fn start_instance(&mut self, node: Node, file: &str, service: &str, extra: &str) -> Daemon {
        let conf = self.config_as(node, file, service, extra);
        let log = self.dir.join(format!("{file}.log"));
        let bin = daemon_bin();
        let pid = self.spawn(node, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
        Daemon { log, pid }
    }

    /// Responders on both servers, the primary until it serves, then the
    /// secondary until it watches.
    pub fn start_pair(&mut self, extra_p: &str, extra_s: &str) -> (Daemon, Daemon) {
        self.start_responders();
        let p = self.start_daemon(Node::Primary, extra_p);
        wait_log(&p.log, "acquiring -> active", Duration::from_secs(10));
        let s = self.start_daemon(Node::Secondary, extra_s);
        wait_log(&s.log, "state starting -> watching", Duration::from_secs(5));
        (p, s)
    }

    pub fn start_responders(&mut self) {
        let tool = netool_bin();
        let tool = tool.to_str().unwrap();
        for (node, name) in [(Node::Primary, "primary"), (Node::Secondary, "secondary")] {
            let log = self.dir.join(format!("respond-{name}.log"));
            self.spawn(node, &[tool, "respond", name, "7777"], &log);
        }
    }

    /// Who answers on the service address right now (one probe, 300 ms).
    pub fn who_answers(&self) -> String {
        self.who_answers_at(SERVICE)
    }

    /// Who answers on `addr` right now: the responder's name, or `none`.
    pub fn who_answers_at(&self, addr: &str) -> String {
        let out = self.probe_at(addr, 20, 300);
        out.lines()
            .rfind(|l| !l.starts_with("summary"))
            .map(|l| l.split(' ').nth(1).unwrap_or("none").to_string())
            .unwrap_or_else(|| "none".into())
    }

    /// Runs the probe from the client: `every` ms for `total` ms.
    pub fn probe(&self, every: u64, total: u64) -> String {
        self.probe_at(SERVICE, every, total)
    }

    /// Runs the probe of `addr` from the client: `every` ms for `total` ms.
    pub fn probe_at(&self, addr: &str, every: u64, total: u64) -> String {
        let tool = netool_bin();
        let target = format!("{addr}:7777");
        self.exec(
            Node::Client,
            &[tool.to_str().unwrap(), "probe", &target, &every.to_string(), &total.to_string()],
        )
    }

    /// Renames `node`'s interface `from` to `to` (down, rename, up): the
    /// addresses stay on it. For names the testbed does not use, such as
    /// a USB NIC's 15-byte `enx0c37965ad2a4`.
    pub fn rename_link(&self, node: Node, from: &str, to: &str) {
        let ns = self.ns(node);
        sh(&["ip", "-n", &ns, "link", "set", from, "down"]);
        sh(&["ip", "-n", &ns, "link", "set", from, "name", to]);
        sh(&["ip", "-n", &ns, "link", "set", to, "up"]);
    }

    pub fn holds(&self, node: Node) -> bool {
        self.exec(node, &["ip", "-4", "-o", "addr", "show", "dev", "pub0"]).contains(&format!("{SERVICE}/24"))
    }

    /// Sends a signal to a child we started (by PID).
    pub fn signal(&self, pid: u32, sig: &str) {
        sh(&["kill", &format!("-{sig}"), &pid.to_string()]);
    }

    pub fn wait_exit(&mut self, pid: u32, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        let child = self.children.iter_mut().find(|c| c.id() == pid)?;
        while Instant::now() < end {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Later lines win: lets a test override a default key.
fn dedupe(text: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut keep: Vec<&str> = Vec::new();
    for line in text.lines().rev() {
        let mut key = line.split('=').next().unwrap_or("").trim().to_string();
        if key == "network" {
            // One per network name: `network = public ...` overrides.
            let name = line.split('=').nth(1).and_then(|v| v.split_whitespace().next()).unwrap_or("");
            key = format!("network {name}");
        }
        if key.starts_with("check_") {
            // `check_fall = web 2` is web's own line, apart from the global one.
            let words: Vec<&str> = line.split('=').nth(1).unwrap_or("").split_whitespace().collect();
            if words.len() == 2 {
                key = format!("{key} {}", words[0]);
            }
        }
        let repeatable = matches!(key.as_str(), "address" | "notify" | "check");
        if key.is_empty() || repeatable || seen.insert(key) {
            keep.push(line);
        }
    }
    keep.reverse();
    keep.join("\n") + "\n"
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = topology::down(&self.name) {
            eprintln!("testbed {}: {e}", self.name);
        }
        if std::thread::panicking() {
            eprintln!("testbed files kept in {}", self.dir.display());
            // p.log and s.log, and the logs of several daemons per node.
            let mut logs: Vec<String> = fs::read_dir(&self.dir)
                .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            logs.retain(|f| f.ends_with(".log") && (f.starts_with("p") || f.starts_with("s")));
            logs.sort();
            for f in &logs {
                if let Ok(mut file) = fs::File::open(self.dir.join(f)) {
                    let mut s = String::new();
                    let _ = file.read_to_string(&mut s);
                    eprintln!("---- {f}\n{s}");
                }
            }
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Waits until `path` contains `needle`; panics with the log otherwise.
pub fn wait_log(path: &Path, needle: &str, timeout: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if fs::read_to_string(path).unwrap_or_default().contains(needle) {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("'{needle}' not in {} after {timeout:?}", path.display());
}

pub fn log_has(path: &Path, needle: &str) -> bool {
    fs::read_to_string(path).unwrap_or_default().contains(needle)
}

pub fn is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| sh(&["id", "-u"]).trim() == "0")
}

/// The address observer: `ip monitor` stamps an event when it reads it from
/// its netlink socket, so on a busy machine an observer that waits for a
/// CPU stamps late (seen: two removals the daemon made 50 us apart stamped
/// 2.7 ms apart while a test suite and a simulator campaign shared the two
/// cores), and two observers in two namespaces misorder what they saw.
/// Run at a real-time priority, as scripts/bench's are, it reads each event
/// as it comes, whatever else runs.
pub const OBSERVER: [&str; 8] = ["chrt", "-f", "20", "ip", "-ts", "-o", "monitor", "address"];

/// Watches who holds the service address, from the kernel's own address
/// events (`ip -ts monitor address`) in both server namespaces.
pub struct Ownership {
    files: [PathBuf; 2],
    initial: [bool; 2],
    /// `inet 198.18.0.10/` or `inet6 fd00:18::10/`, as `ip monitor` prints it.
    needle: String,
}

impl Testbed {
    pub fn watch_ownership(&mut self) -> Ownership {
        self.watch_ownership_of(SERVICE)
    }

    pub fn watch_ownership_of(&mut self, addr: &str) -> Ownership {
        let mut files = Vec::new();
        for node in [Node::Primary, Node::Secondary] {
            let f = self.dir.join(format!("monitor-{}-{}.log", node.tag(), addr.replace(':', "_")));
            self.spawn(node, &OBSERVER, &f);
            self.wait_subscribed(node, &f);
            files.push(f);
        }
        let initial = [self.holds_addr(Node::Primary, addr), self.holds_addr(Node::Secondary, addr)];
        let family = if addr.contains(':') { "inet6" } else { "inet" };
        Ownership {
            files: [files[0].clone(), files[1].clone()],
            initial,
            needle: format!("{family} {addr}/"),
        }
    }

    /// `ip monitor` prints nothing until it has subscribed: a marker
    /// address put on the namespace's own lo (and taken off again) shows
    /// when it has. The marker never matches a watched service address.
    fn wait_subscribed(&self, node: Node, file: &Path) {
        const MARKER: &str = "198.19.255.254/32";
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            self.exec(node, &["ip", "addr", "add", MARKER, "dev", "lo"]);
            std::thread::sleep(Duration::from_millis(10));
            self.exec(node, &["ip", "addr", "del", MARKER, "dev", "lo"]);
            if fs::read_to_string(file).unwrap_or_default().contains("198.19.255.254/32") {
                return;
            }
            assert!(Instant::now() < end, "ip monitor in {} printed nothing in 5 s", self.ns(node));
        }
    }

    /// Whether `node` has `addr` on pub0.
    pub fn holds_addr(&self, node: Node, addr: &str) -> bool {
        let out = self.exec(node, &["ip", "-o", "addr", "show", "dev", "pub0"]);
        out.split_whitespace().any(|w| w.split('/').next() == Some(addr))
    }
}

/// `[2026-11-25T07:32:55.188906]` as microseconds since midnight.
fn micros(line: &str) -> Option<i64> {
    let t = line.get(12..27)?;
    let h: i64 = t.get(0..2)?.parse().ok()?;
    let m: i64 = t.get(3..5)?.parse().ok()?;
    let s: i64 = t.get(6..8)?.parse().ok()?;
    let us: i64 = t.get(9..15)?.parse().ok()?;
    Some(((h * 60 + m) * 60 + s) * 1_000_000 + us)
}

impl Ownership {
    /// Waits until at least `n` address events were seen; then as `overlap`.
    pub fn wait_events(&self, n: usize, timeout: Duration) -> (Duration, usize) {
        let end = Instant::now() + timeout;
        loop {
            let (both, events) = self.overlap();
            if events >= n || Instant::now() >= end {
                return (both, events);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// (time both nodes held the address, number of address events seen).
    pub fn overlap(&self) -> (Duration, usize) {
        let needle = &self.needle;
        let mut events: Vec<(i64, usize, bool)> = Vec::new();
        for (node, f) in self.files.iter().enumerate() {
            for line in
                fs::read_to_string(f).unwrap_or_default().lines().filter(|l| l.contains(needle.as_str()))
            {
                if let Some(t) = micros(line) {
                    events.push((t, node, !line.contains("Deleted")));
                }
            }
        }
        events.sort();
        for e in &events {
            println!(
                "address event: t={}us node={} {}",
                e.0,
                if e.1 == 0 { "primary" } else { "secondary" },
                if e.2 { "added" } else { "removed" }
            );
        }
        let mut held = self.initial;
        let mut both_since: Option<i64> = None;
        let mut total = 0i64;
        for &(t, node, up) in &events {
            held[node] = up;
            match (held[0] && held[1], both_since) {
                (true, None) => both_since = Some(t),
                (false, Some(s)) => {
                    total += t - s;
                    both_since = None;
                }
                _ => {}
            }
        }
        assert!(both_since.is_none(), "both nodes still hold {needle}");
        (Duration::from_micros(total as u64), events.len())
    }
}

/// Milliseconds since midnight of a daemon log line that contains `needle`
/// (the first one at or after `from`).
pub fn log_ms(path: &Path, needle: &str) -> Option<i64> {
    let text = fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.contains(needle))?;
    let t = line.get(11..23)?;
    let h: i64 = t.get(0..2)?.parse().ok()?;
    let m: i64 = t.get(3..5)?.parse().ok()?;
    let s: i64 = t.get(6..8)?.parse().ok()?;
    let ms: i64 = t.get(9..12)?.parse().ok()?;
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

/// Milliseconds since midnight UTC now, on the clock of `log_ms`.
pub fn now_ms_of_day() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    (since.as_millis() % 86_400_000) as i64
}

/// Runs `ipfailoverd -f <conf> <args>` from the host and returns (exit, stdout+stderr).
pub fn ctl(conf: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(daemon_bin()).arg("-f").arg(conf).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}
