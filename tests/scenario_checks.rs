//! Scenario tests (issue 17): service checks of one node. A hanging check
//! is a failure at its timeout and is killed with its process group;
//! status shows every check; the log has one line per fitness change,
//! naming the failing check and its last output line; a reload restarts
//! the checks with the new set. The real binary runs in network
//! namespaces; see tests/common.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);

/// Whether `pid` is gone (or a zombie nobody has reaped yet).
fn gone(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty() || stat.contains(") Z ")
}

fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    gone(pid)
}

fn check_script(tb: &Testbed, name: &str, body: &str) -> std::path::PathBuf {
    let path = tb.dir.join("checks").join(name);
    tb.script(&path, &format!("#!/bin/sh\n{body}\n"));
    path
}

#[test]
fn scenario_checks_a_hanging_check_fails_at_its_timeout_and_its_group_is_killed() {
    let Some(mut tb) = Testbed::new() else { return };
    let pids = tb.dir.join("pids");
    let marker = tb.dir.join("hung-once");
    // The first run hangs with a child in its group; later runs fail fast.
    let hang = check_script(
        &tb,
        "hang",
        &format!(
            "[ -e {m} ] && {{ echo still broken; exit 1; }}\ntouch {m}\necho $$ >> {p}\n\
             sleep 1000 &\necho $! >> {p}\necho hanging\nwait",
            m = marker.display(),
            p = pids.display()
        ),
    );
    let extra = format!(
        "check = hang {}\ncheck_interval = hang 1s\ncheck_timeout = hang 300ms\ncheck_fall = hang 1\n",
        hang.display()
    );
    let p = tb.start_daemon(Node::Primary, &extra);
    let took = wait_log(&p.log, "fitness: unfit: check hang is failing", 5 * S);
    let text = std::fs::read_to_string(&p.log).unwrap();
    let line = text.lines().find(|l| l.contains("fitness: unfit")).unwrap();
    assert!(line.ends_with("its last output: hanging"), "{line}");
    assert!(took < 3 * S, "unfit after {took:?}");
    let list: Vec<i32> =
        std::fs::read_to_string(&pids).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(list.len(), 2, "{list:?}");
    for pid in list {
        assert!(wait_gone(pid, 2 * S), "process {pid} of the hanging check survived");
    }
    let conf = tb.dir.join("p.conf");
    let (code, out) = ctl(&conf, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("checks:    unfit (1 configured)"), "{out}");
    // The next runs fail fast (the marker exists).
    let end = Instant::now() + 5 * S;
    loop {
        let (_, out) = ctl(&conf, &["status"]);
        if out.contains("still broken") {
            break;
        }
        assert!(Instant::now() < end, "{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, json) = ctl(&conf, &["status", "--json"]);
    assert!(json.contains("\"fit\":false"), "{json}");
    assert!(json.contains("\"name\":\"hang\",\"state\":\"failing\""), "{json}");
}

#[test]
fn scenario_checks_status_shows_each_check() {
    let Some(mut tb) = Testbed::new() else { return };
    let ok = check_script(&tb, "ok", "echo \"all good for $IPFAILOVER_CHECK as $IPFAILOVER_ROLE within $IPFAILOVER_CHECK_TIMEOUT\"; exit 0");
    let bad = check_script(&tb, "bad", "echo starting; echo down >&2; exit 3");
    let extra = format!(
        "check = ok {} arg1\ncheck = bad {}\ncheck_interval = 300ms\ncheck_fall = 2\ncheck_rise = 2\n",
        ok.display(),
        bad.display()
    );
    let p = tb.start_daemon(Node::Primary, &extra);
    wait_log(&p.log, "fitness: unfit: check bad is failing; its last output: down", 5 * S);
    let conf = tb.dir.join("p.conf");
    let end = Instant::now() + 5 * S;
    let out = loop {
        let (code, out) = ctl(&conf, &["status"]);
        assert_eq!(code, 0, "{out}");
        if out.contains("ok         passing") {
            break out;
        }
        assert!(Instant::now() < end, "{out}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(out.contains("checks:    unfit (2 configured)"), "{out}");
    // check_timeout defaults to check_interval: 300ms.
    assert!(out.contains(": all good for ok as primary within 0.300"), "{out}");
    let bad_line = out.lines().find(|l| l.trim_start().starts_with("bad ")).unwrap();
    assert!(bad_line.contains("failing,") && bad_line.contains("failed in a row"), "{bad_line}");
    assert!(bad_line.contains("last: exit status 3 after") && bad_line.ends_with(": down"), "{bad_line}");
    let (code, json) = ctl(&conf, &["status", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert!(json.contains("\"fit\":false,\"checks\":[{\"name\":\"ok\",\"state\":\"passing\""), "{json}");
    assert!(json.contains("\"name\":\"bad\",\"state\":\"failing\""), "{json}");
    assert!(json.contains("\"exit_code\":3,\"signal\":null,\"timed_out\":false"), "{json}");
    assert!(json.contains("\"output\":\"down\""), "{json}");
    // Whole and valid JSON, as scripts will read it.
    let mut py = std::process::Command::new("python3")
        .args(["-c", "import json, sys; d = json.load(sys.stdin); assert [c['name'] for c in d['checks']] == ['ok', 'bad']"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    py.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
    assert!(py.wait().unwrap().success(), "{json}");
}

#[test]
fn scenario_checks_fitness_log_line_when_a_check_starts_failing_and_reload_restarts_them() {
    let Some(mut tb) = Testbed::new() else { return };
    let flag = tb.dir.join("service-up");
    std::fs::write(&flag, "").unwrap();
    let svc = check_script(
        &tb,
        "svc",
        &format!("if [ -e {f} ]; then echo up; else echo connection refused; exit 1; fi", f = flag.display()),
    );
    let extra =
        format!("check = svc {}\ncheck_interval = 200ms\ncheck_fall = 3\ncheck_rise = 2\n", svc.display());
    let p = tb.start_daemon(Node::Primary, &extra);
    let conf = tb.dir.join("p.conf");
    wait_log(&p.log, "acquiring -> active", 10 * S);
    std::thread::sleep(S);
    assert!(!log_has(&p.log, "fitness:"), "a passing check changes nothing");
    std::fs::remove_file(&flag).unwrap();
    let stopped = Instant::now();
    wait_log(&p.log, "fitness: unfit: check svc is failing; its last output: connection refused", 5 * S);
    // Three failures 200 ms apart, plus at most one interval of lag.
    assert!(stopped.elapsed() < Duration::from_millis(1500), "{:?}", stopped.elapsed());
    std::fs::write(&flag, "").unwrap();
    wait_log(&p.log, "fitness: fit: every service check passes", 5 * S);
    let text = std::fs::read_to_string(&p.log).unwrap();
    assert_eq!(text.matches("fitness:").count(), 2, "one line per change:\n{text}");

    // A reload replaces the set: a new failing check counts from zero.
    let broken = check_script(&tb, "broken", "echo no backend; exit 2");
    let mut file = std::fs::read_to_string(&conf).unwrap();
    file.push_str(&format!("check = db {}\ncheck_fall = db 1\n", broken.display()));
    std::fs::write(&conf, file).unwrap();
    tb.signal(p.pid, "HUP");
    wait_log(&p.log, "reload: service checks restarted (2 configured)", 5 * S);
    wait_log(&p.log, "fitness: unfit: check db is failing; its last output: no backend", 5 * S);
    let (_, out) = ctl(&conf, &["status"]);
    assert!(out.contains("svc        passing"), "{out}");
    assert!(Path::new(&conf).exists());
}

#[test]
fn scenario_checks_stopping_the_daemon_stops_a_running_check() {
    let Some(mut tb) = Testbed::new() else { return };
    let pids = tb.dir.join("pids");
    let slow = check_script(
        &tb,
        "slow",
        &format!("echo $$ >> {p}\nsleep 1000 &\necho $! >> {p}\nwait", p = pids.display()),
    );
    let extra = format!("check = slow {}\ncheck_interval = 60s\n", slow.display());
    let p = tb.start_daemon(Node::Primary, &extra);
    let end = Instant::now() + 5 * S;
    while std::fs::read_to_string(&pids).unwrap_or_default().lines().count() < 2 {
        assert!(Instant::now() < end, "the check did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    tb.signal(p.pid, "TERM");
    assert_eq!(tb.wait_exit(p.pid, 5 * S), Some(0), "{}", std::fs::read_to_string(&p.log).unwrap());
    for line in std::fs::read_to_string(&pids).unwrap().lines() {
        let pid: i32 = line.trim().parse().unwrap();
        assert!(wait_gone(pid, S), "process {pid} of a running check outlived the daemon");
    }
}

/// A check program in a world-writable directory (issue 28): `-n` refuses
/// it at its line, naming the directory; a daemon started anyway logs the
/// refusal once and counts the check as failing.
#[test]
fn scenario_checks_a_program_in_a_world_writable_directory_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let Some(mut tb) = Testbed::new() else { return };
    let prog = check_script(&tb, "open/ok", "exit 0");
    let open = prog.parent().unwrap().to_path_buf();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let extra = format!("check = open {}\ncheck_interval = 200ms\ncheck_fall = 1\n", prog.display());
    let conf = tb.config(Node::Primary, &extra);
    let line =
        std::fs::read_to_string(&conf).unwrap().lines().position(|l| l.starts_with("check = open")).unwrap()
            + 1;
    let (code, out) =
        tb.exec_status(Node::Primary, &[daemon_bin().to_str().unwrap(), "-n", "-f", conf.to_str().unwrap()]);
    println!("-n: exit {code}:\n{out}");
    assert_ne!(code, 0, "-n accepted a check program in a world-writable directory");
    let want = format!(
        "{}:{line}: check open: program {}: directory {} has mode 0777: group- or world-writable",
        conf.display(),
        prog.display(),
        open.display()
    );
    assert!(out.contains(&want), "-n did not say {want:?}:\n{out}");
    let p = tb.start_daemon(Node::Primary, &extra);
    wait_log(&p.log, "fitness: unfit: check open is failing", 5 * S);
    let log = std::fs::read_to_string(&p.log).unwrap();
    let refusals = log.matches("check open: program refused, the check fails: ").count();
    assert_eq!(refusals, 1, "the refusal is logged once:\n{log}");
    assert!(log.contains(&format!("directory {} has mode 0777", open.display())), "{log}");
}
