//! Hostile neighbours and careless operators (issue 16): a local user who
//! wants the heartbeats, a state file that cannot be trusted, hooks in a
//! directory others can write, a relative configuration path, a lost ARP
//! reply. The real binary runs in network namespaces (tests/common); run
//! them one at a time:
//! `cargo test --test scenario_hostile -- --test-threads=1 --nocapture`.

mod common;

use common::*;
use ipfailover::config::{NetId, Role};
use ipfailover::crypto::hmac::Key;
use ipfailover::proto::{
    self, codec::MAX_LEN, ClaimId, Flags, Generation, Kind, Message, PairId, SenderId, Seq,
};
use std::path::Path;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// Unicast heartbeats: the primary sends to the secondary's addresses and
/// the secondary to the primary's, so a socket that steals the port gets
/// them instead of the daemon (broadcasts would reach every socket).
const UNICAST_P: &str = "network = public pub0 198.18.0.2\nnetwork = private priv0 198.19.0.2";
const UNICAST_S: &str = "network = public pub0 198.18.0.1\nnetwork = private priv0 198.19.0.1";

/// A local user's port thief: for each device, a UDP socket on port 1694
/// with SO_REUSEADDR (then SO_REUSEPORT) bound to that device, and one
/// bound to no device; prints what the kernel said and every datagram it
/// gets.
const THIEF: &str = r#"
import errno, socket, sys, time
socks = []
for dev in sys.argv[1:] + [""]:
    for opt, name in ((socket.SO_REUSEADDR, "reuseaddr"), (socket.SO_REUSEPORT, "reuseport")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, opt, 1)
        try:
            if dev:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
            s.bind(("0.0.0.0", 1694))
            print("bound", dev or "any", name, flush=True)
            s.setblocking(False)
            socks.append(s)
        except OSError as e:
            print("refused", dev or "any", name, errno.errorcode.get(e.errno, e.errno), flush=True)
print("ready", flush=True)
while True:
    for s in socks:
        try:
            data, src = s.recvfrom(2048)
            print("stole", len(data), "bytes from", src[0], flush=True)
        except BlockingIOError:
            pass
    time.sleep(0.01)
"#;

/// Starts the thief as user nobody in the secondary's namespace.
fn start_thief(tb: &mut Testbed, log: &Path) -> u32 {
    let pid = tb.spawn(
        Node::Secondary,
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            THIEF,
            "pub0",
            "priv0",
        ],
        log,
    );
    wait_log(log, "ready", 10 * S);
    pid
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A local user binds the daemon's port, after the daemon and before it.
/// After: every bind is refused, no heartbeat is stolen and the secondary
/// keeps watching. Before: the daemon does not start, and says why.
#[test]
fn scenario_hostile_local_user_cannot_steal_heartbeats() {
    let Some(mut tb) = Testbed::new() else { return };
    let (_p, s) = tb.start_pair(UNICAST_P, UNICAST_S);
    let thief_log = tb.dir.join("thief.log");
    let thief = start_thief(&mut tb, &thief_log);
    std::thread::sleep(3 * S);
    let seen = read(&thief_log);
    println!("thief after the daemon:\n{seen}");
    assert!(!seen.contains("bound"), "a local user shared the daemon's port:\n{seen}");
    assert_eq!(seen.matches("refused").count(), 6, "{seen}");
    assert!(!seen.contains("stole"), "{seen}");
    assert!(!log_has(&s.log, "acquiring"), "the secondary took over while the primary was alive");
    assert!(!log_has(&s.log, "anomaly"), "a network fell silent for the secondary");
    assert_eq!(tb.who_answers(), "primary");
    tb.signal(thief, "KILL");
    let _ = tb.wait_exit(thief, 5 * S);

    // Before the daemon: the port is the thief's, and the daemon refuses
    // to start rather than share it.
    tb.signal(s.pid, "TERM");
    assert_eq!(tb.wait_exit(s.pid, 5 * S), Some(0));
    let thief_log = tb.dir.join("thief-first.log");
    let thief = start_thief(&mut tb, &thief_log);
    let seen = read(&thief_log);
    println!("thief before the daemon:\n{seen}");
    let log = tb.dir.join("s2.log");
    let conf = tb.dir.join("s.conf");
    let bin = daemon_bin();
    let pid = tb.spawn(Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    let code = tb.wait_exit(pid, 10 * S);
    let text = read(&log);
    println!("daemon started after the thief: exit {code:?}\n{text}");
    assert_eq!(code, Some(1), "the daemon started beside the thief");
    assert!(text.contains("UDP port 1694 on pub0 is in use"), "{text}");
    assert!(!text.contains("acquiring"), "{text}");
    tb.signal(thief, "KILL");
    let _ = tb.wait_exit(thief, 5 * S);
    let s = tb.start_daemon(Node::Secondary, UNICAST_S);
    wait_log(&s.log, "starting -> watching", 5 * S);
}

/// Both networks on one interface: the two sockets share the port (the
/// same user, SO_REUSEPORT), and a local user still cannot.
#[test]
fn scenario_hostile_both_networks_on_one_interface_still_bind() {
    let Some(mut tb) = Testbed::new() else { return };
    let s = tb.start_daemon(Node::Secondary, "network = private pub0 198.18.0.255");
    wait_log(&s.log, "started as", 5 * S);
    assert!(!log_has(&s.log, "in use"), "{}", read(&s.log));
    let thief_log = tb.dir.join("thief.log");
    let thief = start_thief(&mut tb, &thief_log);
    let seen = read(&thief_log);
    println!("{seen}");
    assert!(!seen.contains("bound pub0") && !seen.contains("bound any"), "{seen}");
    tb.signal(thief, "KILL");
    let _ = tb.wait_exit(thief, 5 * S);
    let (_, status) = ctl(&tb.dir.join("s.conf"), &["status"]);
    assert!(
        status.contains("public:    pub0 link up") && status.contains("private:   pub0 link up"),
        "{status}"
    );
}

/// Runs the secondary's daemon in the foreground until it exits (at most
/// 10 s); returns its exit status and what it printed.
fn run_secondary(tb: &mut Testbed, extra: &str, log_name: &str) -> (Option<i32>, String) {
    let conf = tb.config(Node::Secondary, extra);
    let log = tb.dir.join(log_name);
    let bin = daemon_bin();
    let pid = tb.spawn(Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    let code = tb.wait_exit(pid, 10 * S);
    if code.is_none() {
        tb.signal(pid, "TERM");
        let _ = tb.wait_exit(pid, 5 * S);
    }
    (code, read(&log))
}

/// A corrupt state file, and one that is a symbolic link, stop the start
/// with a message naming the file and the command that clears it; the
/// file is left as it was. Moved away as told, the daemon starts.
#[test]
fn scenario_hostile_untrusted_state_file_stops_the_start() {
    let Some(mut tb) = Testbed::new() else { return };
    let state_dir = tb.dir.join("state-s");
    std::fs::create_dir_all(&state_dir).unwrap();
    let file = state_dir.join("state");
    std::fs::write(&file, "generation 12345\npeer zz 1 2\n").unwrap();
    let (code, text) = run_secondary(&mut tb, "", "corrupt.log");
    println!("corrupt state file: exit {code:?}\n{text}");
    assert_eq!(code, Some(1), "started on a corrupt state file");
    let mv = format!("mv {0} {0}.bad", file.display());
    assert!(text.contains(&file.display().to_string()) && text.contains("line 2"), "{text}");
    assert!(text.contains(&mv), "no recovery command: {text}");
    assert!(!text.contains("started as"), "{text}");
    assert_eq!(read(&file), "generation 12345\npeer zz 1 2\n", "the state file was replaced");

    // A link to a good-looking state file is refused as well.
    let elsewhere = tb.dir.join("elsewhere");
    std::fs::write(&elsewhere, "generation 12345\n").unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let (code, text) = run_secondary(&mut tb, "", "link.log");
    println!("state file is a link: exit {code:?}\n{text}");
    assert_eq!(code, Some(1));
    assert!(text.contains("is a symbolic link") && text.contains(&mv), "{text}");
    assert_eq!(read(&elsewhere), "generation 12345\n");

    // The operator follows the message.
    sh(&["sh", "-c", &mv]);
    let s = tb.start_daemon(Node::Secondary, "");
    wait_log(&s.log, "started as", 5 * S);
    assert!(file.exists() && !std::fs::symlink_metadata(&file).unwrap().file_type().is_symlink());
}

/// A daemon this test started in the background (it detached, so the
/// testbed does not know its PID): stopped by the PID in its pidfile.
struct Detached(u32);

impl Drop for Detached {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.0.to_string()]).status();
        let end = std::time::Instant::now() + 5 * S;
        while Path::new(&format!("/proc/{}", self.0)).exists() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        if Path::new(&format!("/proc/{}", self.0)).exists() {
            let _ = std::process::Command::new("kill").args(["-KILL", &self.0.to_string()]).status();
        }
    }
}

/// `ipfailoverd -f s.conf`, started from the directory that holds it,
/// detaches and changes to `/`; a SIGHUP must still reload that file.
#[test]
fn scenario_hostile_relative_config_path_reloads_the_same_file() {
    let Some(tb) = Testbed::new() else { return };
    let conf = tb.config(Node::Secondary, "");
    let bin = daemon_bin();
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &tb.ns(Node::Secondary)])
        .arg(&bin)
        .args(["-f", "s.conf"])
        .current_dir(&tb.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pidfile = tb.dir.join("s.pid");
    let end = std::time::Instant::now() + 5 * S;
    let pid = loop {
        let text = read(&pidfile);
        if let Ok(pid) = text.trim().parse::<u32>() {
            if text.ends_with('\n') {
                break pid;
            }
        }
        assert!(std::time::Instant::now() < end, "no pidfile");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _daemon = Detached(pid);
    wait_status(&conf, "198.18.0.10/24");
    let text = read(&conf) + "address = pub0:198.18.0.11/24\n";
    std::fs::write(&conf, text).unwrap();
    sh(&["kill", "-HUP", &pid.to_string()]);
    let status = wait_status(&conf, "198.18.0.11/24");
    println!("after SIGHUP:\n{status}");
}

/// `ipfailoverd status` once it contains `needle` (at most 5 s).
fn wait_status(conf: &Path, needle: &str) -> String {
    let end = std::time::Instant::now() + 5 * S;
    loop {
        let (_, out) = ctl(conf, &["status"]);
        if out.contains(needle) {
            return out;
        }
        assert!(std::time::Instant::now() < end, "status never showed {needle}:\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A hook directory that others may write (a copy made by a non-root user,
/// a likely Apple migration): its hooks do not run, the log says which
/// directory is at fault, and the takeover goes on.
#[test]
fn scenario_hostile_hook_in_a_group_writable_directory_does_not_run() {
    use std::os::unix::fs::PermissionsExt;
    let Some(mut tb) = Testbed::new() else { return };
    let dir = tb.dir.join("scripts").join(SERVICE);
    let ran = tb.dir.join("ran");
    tb.script(&dir.join("PreAcq10.swap-me"), &format!("#!/bin/sh\necho ran >> {}\n", ran.display()));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
    let (_p, s) = tb.start_pair("", "");
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "acquiring -> holding", 10 * S);
    let log = read(&s.log);
    let skip = log.lines().find(|l| l.contains("skipping hook")).unwrap_or("");
    println!("{skip}");
    assert!(!ran.exists(), "the hook in a group-writable directory ran");
    assert!(
        skip.contains(&format!("directory {} has mode 0775: group- or world-writable", dir.display())),
        "{log}"
    );
    assert_eq!(tb.who_answers(), "secondary");
}

/// Starts the primary alone (the secondary's namespace runs no daemon):
/// after dead_after of silence it probes the service addresses.
fn primary_alone(tb: &mut Testbed, extra: &str) -> Daemon {
    tb.start_daemon(Node::Primary, extra)
}

/// RFC 5227: several probes, and any answer counts. Another host holds
/// the address and its first ARP reply is lost (nftables drops every third
/// one, the first included): the primary must still see it and not add
/// the address. A neighbour advertisement from the kernel (hop limit 255)
/// counts for IPv6 the same way.
#[test]
fn scenario_hostile_a_lost_arp_reply_does_not_make_a_held_address_free() {
    let Some(mut tb) = Testbed::new() else { return };
    let ns = tb.ns(Node::Secondary);
    sh(&["ip", "-n", &ns, "addr", "add", &format!("{SERVICE}/24"), "dev", "pub0"]);
    sh(&["ip", "netns", "exec", &ns, "nft", "add table arp lossy"]);
    sh(&[
        "ip",
        "netns",
        "exec",
        &ns,
        "nft",
        "add chain arp lossy out { type filter hook output priority 0; }",
    ]);
    let rule = format!(
        "add rule arp lossy out arp operation reply arp saddr ip {SERVICE} numgen inc mod 3 0 counter drop"
    );
    sh(&["ip", "netns", "exec", &ns, "nft", &rule]);
    let p = primary_alone(&mut tb, "");
    wait_log(&p.log, "is in use by", 5 * S);
    std::thread::sleep(2 * S);
    let log = read(&p.log);
    let counters = tb.exec(Node::Secondary, &["nft", "list", "chain", "arp", "lossy", "out"]);
    println!("{}", counters.lines().find(|l| l.contains("counter")).unwrap_or(""));
    assert!(!tb.holds(Node::Primary), "the primary added an address another host holds:\n{log}");
    assert!(!log.contains("-> active"), "{log}");
    assert!(counters.contains("counter packets") && !counters.contains("counter packets 0 "), "{counters}");
    tb.signal(p.pid, "TERM");
    assert_eq!(tb.wait_exit(p.pid, 5 * S), Some(0));

    // IPv6: the other host's kernel answers the solicitation.
    sh(&["ip", "-n", &ns, "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"]);
    sh(&["ip", "-n", &ns, "addr", "add", "fd00:18::10/64", "dev", "pub0", "nodad"]);
    let _ = std::fs::remove_file(tb.dir.join("p.log"));
    let p = primary_alone(&mut tb, "address = pub0:fd00:18::10/64");
    wait_log(&p.log, "fd00:18::10 is in use by", 5 * S);
    std::thread::sleep(S);
    assert!(!tb.holds_addr(Node::Primary, "fd00:18::10"), "{}", read(&p.log));
}

/// A neighbour advertisement that crossed a router (hop limit below 255,
/// RFC 4861 7.1.2) is not an answer: a host off the link cannot make the
/// primary think its address is taken.
const FORGED_NA: &str = r#"
import socket, struct, sys, time
target = socket.inet_pton(socket.AF_INET6, sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 64)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"pub0")
# Type 136, override flag, target, target link-layer address option.
na = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + target + bytes([2, 1, 2, 0, 0, 0xba, 0xd0, 0x01])
print("sending", flush=True)
while True:
    s.sendto(na, ("ff02::1", 0, 0, socket.if_nametoindex("pub0")))
    time.sleep(0.01)
"#;

#[test]
fn scenario_hostile_advertisements_from_off_link_do_not_block_a_claim() {
    let Some(mut tb) = Testbed::new() else { return };
    let log = tb.dir.join("forger.log");
    tb.spawn(Node::Client, &["/usr/bin/python3", "-c", FORGED_NA, "fd00:18::10"], &log);
    wait_log(&log, "sending", 5 * S);
    let p = primary_alone(&mut tb, "address = pub0:fd00:18::10/64");
    wait_log(&p.log, "-> active", 10 * S);
    let text = read(&p.log);
    assert!(!text.contains("is in use by"), "{text}");
    assert!(tb.holds_addr(Node::Primary, "fd00:18::10"));
}

/// (sender id, generation) from the daemon's `started as` line.
fn identity(log: &Path) -> (u32, u64) {
    let text = read(log);
    let line = text.lines().find(|l| l.contains("started as")).expect("started as line");
    let id = line.split("sender id ").nth(1).unwrap();
    let sender = u32::from_str_radix(&id[..8], 16).unwrap();
    let generation = id.split("generation ").nth(1).unwrap().split(')').next().unwrap().parse().unwrap();
    (sender, generation)
}

/// The `name=N` counter of one network's line in `ipfailoverd status`.
fn counter(conf: &Path, net: &str, name: &str) -> u64 {
    let (_, out) = ctl(conf, &["status"]);
    let line = out.lines().find(|l| l.trim_start().starts_with(&format!("{net}:"))).unwrap_or("");
    line.split([' ', '(', ')', ','])
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A holder of the key sends one heartbeat in the primary's name with a
/// generation 30 days ahead. Refused and counted as future-generation;
/// the real primary stays heard, also after the secondary restarts (it was
/// never saved).
#[test]
fn scenario_hostile_a_generation_from_the_future_mutes_nobody() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let sc = tb.dir.join("s.conf");
    let (sender, generation) = identity(&p.log);
    let forged = Message {
        kind: Kind::Heartbeat,
        role: Role::Primary,
        net: NetId::Public,
        flags: Flags(Flags::PUBLIC_UP | Flags::PRIVATE_UP | Flags::HOLDING),
        sender: SenderId(sender),
        generation: Generation(generation + ((30 * 86_400) << 20)),
        seq: Seq(1),
        pair: PairId(0),
        claim: Some(ClaimId(0)),
    };
    let mut buf = [0u8; MAX_LEN];
    let n = proto::encode(&forged, Some(&Key::new(KEY.as_bytes())), &mut buf);
    let hex: String = buf[..n].iter().map(|b| format!("{b:02x}")).collect();
    let tool = netool_bin();
    tb.exec(Node::Client, &[tool.to_str().unwrap(), "send", "198.18.0.2:1694", &hex]);
    std::thread::sleep(2 * S);
    let refused = counter(&sc, "public", "future-generation");
    println!("future-generation on the secondary's public network: {refused}");
    assert_eq!(refused, 1);
    assert!(!log_has(&s.log, "anomaly"), "the real primary was muted:\n{}", read(&s.log));
    tb.signal(s.pid, "TERM");
    assert_eq!(tb.wait_exit(s.pid, 5 * S), Some(0));
    let state = read(&tb.dir.join("state-s").join("state"));
    assert!(!state.contains(&forged.generation.to_string()), "saved: {state}");
    let _ = std::fs::remove_file(&s.log);
    let s = tb.start_daemon(Node::Secondary, "");
    wait_log(&s.log, "starting -> watching", 5 * S);
    std::thread::sleep(2 * S);
    assert!(!log_has(&s.log, "anomaly") && !log_has(&s.log, "acquiring"), "{}", read(&s.log));
}
