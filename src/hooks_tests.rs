use super::*;
use crate::config::IfName;
use std::os::unix::fs::PermissionsExt;

fn addr() -> ServiceAddr {
    ServiceAddr { interface: IfName::new("eth0").unwrap(), addr: "198.18.0.10".parse().unwrap(), prefix: 24 }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipfo-hooks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("198.18.0.10")).unwrap();
    d
}

fn hook(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let p = dir.join("198.18.0.10").join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn ctx<'a>(a: &'a ServiceAddr, stage: Stage) -> Context<'a> {
    Context { stage, addr: a, peer: Some("198.19.0.1".parse().unwrap()), reason: "both-networks-silent" }
}

#[test]
fn discovery_order_and_filter() {
    let d = scratch("order");
    hook(&d, "PreAcq20.StopY", "", 0o755);
    hook(&d, "PreAcq10.StopX", "", 0o755);
    hook(&d, "PreAcq2", "", 0o755);
    hook(&d, "PreAcqZ", "", 0o757); // world-writable
    hook(&d, "PreAcqNoExec", "", 0o644);
    hook(&d, "PostAcq1", "", 0o755);
    hook(&d, "Testing", "", 0o755);
    std::fs::create_dir(d.join("198.18.0.10/PreAcqDir")).unwrap();
    let (run, skipped) = discover(&d, &addr(), Stage::PreAcq);
    let names: Vec<String> = run.iter().map(|p| p.file_name().unwrap().to_string_lossy().into()).collect();
    assert_eq!(names, vec!["PreAcq10.StopX", "PreAcq2", "PreAcq20.StopY"]);
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(skipped.iter().any(|s| s.contains("PreAcqZ") && s.contains("world-writable")));
    assert!(skipped.iter().any(|s| s.contains("PreAcqDir") && s.contains("not a regular file")));
    assert!(skipped.iter().any(|s| s.contains("PreAcqNoExec") && s.contains("not executable")));
    // "Test" is an exact name.
    assert!(discover(&d, &addr(), Stage::Test).0.is_empty());
    hook(&d, "Test", "", 0o700);
    assert_eq!(discover(&d, &addr(), Stage::Test).0.len(), 1);
    // No directory: no hooks, no complaint.
    assert_eq!(discover(&d.join("none"), &addr(), Stage::PreAcq), (vec![], vec![]));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn contract_arguments_environment_cwd_stdin() {
    let d = scratch("contract");
    let out = d.join("out");
    let h = hook(
        &d,
        "PostAcq1",
        &format!("echo \"$0|$1|$2|$3\" > {0}; env | sort >> {0}; pwd >> {0}; cat >> {0}", out.display()),
        0o755,
    );
    std::env::set_var("IPFO_SECRET_SHOULD_NOT_LEAK", "1");
    let a = addr();
    let ran = run(&h, &ctx(&a, Stage::PostAcq), Duration::from_secs(10));
    assert_eq!(ran.exit, Exit::Code(0));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), format!("{}|postacq|eth0|198.18.0.10/24", h.display()));
    let env: Vec<&str> = lines.clone().take_while(|l| l.contains('=')).collect();
    let mut want = vec![
        "IPFAILOVER_ADDRESS=198.18.0.10",
        "IPFAILOVER_INTERFACE=eth0",
        "IPFAILOVER_PEER=198.19.0.1",
        "IPFAILOVER_PREFIX=24",
        "IPFAILOVER_REASON=both-networks-silent",
        "IPFAILOVER_STAGE=postacq",
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    ];
    // sh itself may add PWD, SHLVL and _ ; nothing else may appear.
    let extra: Vec<&&str> = env
        .iter()
        .filter(|l| {
            !want.contains(l) && !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_=")
        })
        .collect();
    assert!(extra.is_empty(), "leaked: {extra:?}");
    want.retain(|w| !env.contains(w));
    assert!(want.is_empty(), "missing: {want:?}");
    assert_eq!(text.lines().filter(|l| *l == "/").count(), 1, "cwd must be /: {text}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn exit_status_and_timeout_kill_the_group() {
    let d = scratch("timeout");
    let a = addr();
    let fail = hook(&d, "PreAcq1", "exit 3", 0o755);
    assert_eq!(run(&fail, &ctx(&a, Stage::PreAcq), Duration::from_secs(5)).exit, Exit::Code(3));
    let pidfile = d.join("child.pid");
    // The hook and a child ignoring nothing; both must be gone afterwards.
    let slow = hook(&d, "PreAcq2", &format!("sleep 100 & echo $! > {}; sleep 100", pidfile.display()), 0o755);
    let start = Instant::now();
    let ran = run(&slow, &ctx(&a, Stage::PreAcq), Duration::from_secs(1));
    assert_eq!(ran.exit, Exit::TimedOut);
    assert!(start.elapsed() < Duration::from_secs(4), "{:?}", start.elapsed());
    let child: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !Path::new(&format!("/proc/{child}")).exists()
            || std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap().contains(" Z "),
        "child {child} survived"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn huge_output_is_bounded_and_does_not_block() {
    let d = scratch("output");
    let a = addr();
    let loud = hook(&d, "PostRel1", "yes 0123456789 | head -c 50000000; exit 0", 0o755);
    let ran = run(&loud, &ctx(&a, Stage::PostRel), Duration::from_secs(30));
    assert_eq!(ran.exit, Exit::Code(0));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn endless_output_does_not_hide_the_timeout() {
    let d = scratch("endless");
    let a = addr();
    // Short lines as fast as the pipe takes them, for ever.
    let loud = hook(&d, "PostRel1", "yes", 0o755);
    let ran = run(&loud, &ctx(&a, Stage::PostRel), Duration::from_secs(1));
    assert_eq!(ran.exit, Exit::TimedOut);
    assert!(ran.took < Duration::from_secs(6), "took {:?}", ran.took);
    std::fs::remove_dir_all(&d).unwrap();
}
