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

/// The checked hook `name` of `stage`, as `discover` hands it to `run`.
fn found(dir: &Path, stage: Stage, name: &str) -> Hook {
    let (run, skipped) = discover(dir, &addr(), stage);
    run.into_iter()
        .find(|h| h.path.file_name().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("{name} not found; skipped: {skipped:?}"))
}

fn ctx<'a>(a: &'a ServiceAddr, stage: Stage) -> Context<'a> {
    Context { stage, addr: a, peer: Some("198.19.0.1".parse().unwrap()), reason: "both-networks-silent" }
}

#[test]
fn discovery_order_and_filter() {
    if !crate::root_or_skip("discovery_order_and_filter") {
        return;
    }
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
    let names: Vec<String> =
        run.iter().map(|h| h.path.file_name().unwrap().to_string_lossy().into()).collect();
    assert_eq!(names, vec!["PreAcq10.StopX", "PreAcq2", "PreAcq20.StopY"]);
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(skipped.iter().any(|s| s.path.ends_with("PreAcqZ") && s.why.contains("world-writable")));
    assert!(skipped.iter().any(|s| s.path.ends_with("PreAcqDir") && s.why.contains("not a regular file")));
    assert!(skipped.iter().any(|s| s.path.ends_with("PreAcqNoExec") && s.why.contains("not executable")));
    // "Test" is an exact name.
    assert!(discover(&d, &addr(), Stage::Test).0.is_empty());
    hook(&d, "Test", "", 0o700);
    assert_eq!(discover(&d, &addr(), Stage::Test).0.len(), 1);
    // No directory: no hooks, no complaint.
    let (run, skipped) = discover(&d.join("none"), &addr(), Stage::PreAcq);
    assert!(run.is_empty() && skipped.is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn contract_arguments_environment_cwd_stdin() {
    if !crate::root_or_skip("contract_arguments_environment_cwd_stdin") {
        return;
    }
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
    let ran = run(&found(&d, Stage::PostAcq, "PostAcq1"), &ctx(&a, Stage::PostAcq), Duration::from_secs(10));
    assert_eq!(ran.exit, Exit::Code(0));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    // The script is read through the descriptor that was checked.
    let first = lines.next().unwrap();
    let (zero, rest) = first.split_once('|').unwrap();
    assert!(zero.starts_with("/proc/self/fd/"), "{first}");
    assert_eq!(rest, "postacq|eth0|198.18.0.10/24");
    let env: Vec<&str> = lines.clone().take_while(|l| l.contains('=')).collect();
    let hook_var = format!("IPFAILOVER_HOOK={}", h.display());
    let mut want = vec![
        hook_var.as_str(),
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
    if !crate::root_or_skip("exit_status_and_timeout_kill_the_group") {
        return;
    }
    let d = scratch("timeout");
    let a = addr();
    let fail = hook(&d, "PreAcq1", "exit 3", 0o755);
    let _ = fail;
    let fail = found(&d, Stage::PreAcq, "PreAcq1");
    assert_eq!(run(&fail, &ctx(&a, Stage::PreAcq), Duration::from_secs(5)).exit, Exit::Code(3));
    let pidfile = d.join("child.pid");
    // The hook and a child ignoring nothing; both must be gone afterwards.
    let slow = hook(&d, "PreAcq2", &format!("sleep 100 & echo $! > {}; sleep 100", pidfile.display()), 0o755);
    let start = Instant::now();
    let _ = slow;
    let ran = run(&found(&d, Stage::PreAcq, "PreAcq2"), &ctx(&a, Stage::PreAcq), Duration::from_secs(1));
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
    if !crate::root_or_skip("huge_output_is_bounded_and_does_not_block") {
        return;
    }
    let d = scratch("output");
    let a = addr();
    let loud = hook(&d, "PostRel1", "yes 0123456789 | head -c 50000000; exit 0", 0o755);
    let _ = loud;
    let ran = run(&found(&d, Stage::PostRel, "PostRel1"), &ctx(&a, Stage::PostRel), Duration::from_secs(30));
    assert_eq!(ran.exit, Exit::Code(0));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn endless_output_does_not_hide_the_timeout() {
    if !crate::root_or_skip("endless_output_does_not_hide_the_timeout") {
        return;
    }
    let d = scratch("endless");
    let a = addr();
    // Short lines as fast as the pipe takes them, for ever.
    let loud = hook(&d, "PostRel1", "yes", 0o755);
    let _ = loud;
    let ran = run(&found(&d, Stage::PostRel, "PostRel1"), &ctx(&a, Stage::PostRel), Duration::from_secs(1));
    assert_eq!(ran.exit, Exit::TimedOut);
    assert!(ran.took < Duration::from_secs(6), "took {:?}", ran.took);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn what_makes_a_directory_or_a_hook_untrusted() {
    assert_eq!(refuse_dir(0, 0o40755), None);
    assert_eq!(refuse_dir(0, 0o40700), None);
    assert!(refuse_dir(1000, 0o40755).unwrap().contains("uid 1000, not root"));
    assert!(refuse_dir(0, 0o40775).unwrap().contains("0775: group- or world-writable"));
    assert!(refuse_dir(0, 0o41777).unwrap().contains("1777"));
    assert_eq!(refuse_file(true, 0, 0o100755), None);
    assert!(refuse_file(false, 0, 0o120777).unwrap().contains("not a regular file"));
    assert!(refuse_file(true, 5, 0o100755).unwrap().contains("uid 5"));
    assert!(refuse_file(true, 0, 0o100775).unwrap().contains("group- or world-writable"));
    assert!(refuse_file(true, 0, 0o100644).unwrap().contains("not executable"));
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every step from scripts_dir down to the hook is checked, and the log
/// line names the directory at fault.
#[test]
fn hooks_below_an_unsafe_directory_are_skipped() {
    if !crate::root_or_skip("hooks_below_an_unsafe_directory_are_skipped") {
        return;
    }
    let d = scratch("dirs");
    let sub = d.join("198.18.0.10");
    hook(&d, "PreAcq1", "", 0o755);
    hook(&d, "PreAcq2", "", 0o755);
    let only_skipped = |needle: &str| {
        let (run, skipped) = discover(&d, &addr(), Stage::PreAcq);
        assert!(run.is_empty(), "{needle}: ran {run:?}");
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped.iter().all(|s| s.to_string().contains(needle)), "{needle}: {skipped:?}");
    };
    chmod(&sub, 0o775);
    only_skipped(&format!("directory {} has mode 0775: group- or world-writable", sub.display()));
    chmod(&sub, 0o755);
    chmod(&d, 0o757);
    only_skipped(&format!("directory {} has mode 0757", d.display()));
    chmod(&d, 0o755);
    std::os::unix::fs::lchown(&sub, Some(65534), None).unwrap();
    only_skipped("owned by uid 65534, not root");
    std::os::unix::fs::lchown(&sub, Some(0), None).unwrap();
    assert_eq!(discover(&d, &addr(), Stage::PreAcq).0.len(), 2);
    // The address directory is a link to a safe one: still refused.
    let elsewhere = scratch("dirs-elsewhere");
    std::fs::remove_dir_all(&sub).unwrap();
    hook(&elsewhere, "PreAcq1", "", 0o755);
    std::os::unix::fs::symlink(elsewhere.join("198.18.0.10"), &sub).unwrap();
    let (run, skipped) = discover(&d, &addr(), Stage::PreAcq);
    assert!(run.is_empty() && skipped[0].to_string().contains("is a symbolic link"), "{skipped:?}");
    // So is a hook that is a link to a safe file.
    std::fs::remove_file(&sub).unwrap();
    std::fs::create_dir(&sub).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("198.18.0.10/PreAcq1"), sub.join("PreAcq1")).unwrap();
    let (run, skipped) = discover(&d, &addr(), Stage::PreAcq);
    assert!(run.is_empty() && skipped[0].to_string().contains("not a regular file"), "{skipped:?}");
    std::fs::remove_dir_all(&d).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

/// The hook that runs is the file that was checked: replacing it (or its
/// directory) after the check changes nothing.
#[test]
fn the_checked_file_is_the_one_that_runs() {
    if !crate::root_or_skip("the_checked_file_is_the_one_that_runs") {
        return;
    }
    let d = scratch("swap");
    let out = d.join("out");
    let a = addr();
    hook(&d, "PreAcq1", &format!("echo checked >> {}", out.display()), 0o755);
    let checked = found(&d, Stage::PreAcq, "PreAcq1");
    // Swapped for another file after the check.
    let other = d.join("other");
    std::fs::write(&other, format!("#!/bin/sh\necho swapped >> {}\n", out.display())).unwrap();
    chmod(&other, 0o755);
    std::fs::rename(&other, d.join("198.18.0.10/PreAcq1")).unwrap();
    assert_eq!(run(&checked, &ctx(&a, Stage::PreAcq), Duration::from_secs(10)).exit, Exit::Code(0));
    // The whole directory moved away and replaced.
    std::fs::rename(d.join("198.18.0.10"), d.join("moved")).unwrap();
    std::fs::create_dir(d.join("198.18.0.10")).unwrap();
    hook(&d, "PreAcq1", &format!("echo replaced >> {}", out.display()), 0o755);
    assert_eq!(run(&checked, &ctx(&a, Stage::PreAcq), Duration::from_secs(10)).exit, Exit::Code(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "checked\nchecked\n");
    // A binary (no #!) runs through its descriptor too, with argv[0] its path.
    std::fs::copy("/bin/true", d.join("198.18.0.10/PreAcq2")).unwrap();
    let ran = run(&found(&d, Stage::PreAcq, "PreAcq2"), &ctx(&a, Stage::PreAcq), Duration::from_secs(10));
    assert_eq!(ran.exit, Exit::Code(0));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_sticky_directory_leads_only_to_roots_entries() {
    // /tmp: root's, 1777. Root's entry: passed; anyone else's: refused.
    assert_eq!(refuse_dir_on_way(0, 0o41777, 0), None);
    assert!(refuse_dir_on_way(0, 0o41777, 1000).unwrap().contains("1777: group- or world-writable"));
    // Not sticky, or not root's: the plain rule.
    assert!(refuse_dir_on_way(0, 0o40777, 0).unwrap().contains("0777"));
    assert!(refuse_dir_on_way(1000, 0o41777, 0).unwrap().contains("uid 1000, not root"));
    assert_eq!(refuse_dir_on_way(0, 0o40755, 1000), None);
}

/// A check's program: every directory from `/` down is checked, links
/// are followed only out of checked directories into checked ones, and
/// the reason names the directory at fault.
#[test]
fn a_program_is_reached_through_checked_directories_only() {
    if !crate::root_or_skip("a_program_is_reached_through_checked_directories_only") {
        return;
    }
    let d = scratch("program");
    let dir = d.join("198.18.0.10");
    let prog = hook(&d, "prog", "", 0o755);
    assert!(open_program(&prog).is_ok(), "{:?}", open_program(&prog).err());
    // Packaged programs are often links, and so is /bin on merged /usr.
    assert!(open_program(Path::new("/bin/sh")).is_ok(), "{:?}", open_program(Path::new("/bin/sh")).err());
    let refused = |p: &Path| open_program(p).err().unwrap_or_else(|| panic!("{} was accepted", p.display()));
    // The program's own directory, and one further up.
    chmod(&dir, 0o777);
    assert_eq!(
        refused(&prog),
        format!("directory {} has mode 0777: group- or world-writable", dir.display())
    );
    chmod(&dir, 0o775);
    assert!(refused(&prog).contains("0775: group- or world-writable"));
    chmod(&dir, 0o755);
    chmod(&d, 0o757);
    assert_eq!(refused(&prog), format!("directory {} has mode 0757: group- or world-writable", d.display()));
    chmod(&d, 0o755);
    std::os::unix::fs::lchown(&dir, Some(65534), None).unwrap();
    assert_eq!(refused(&prog), format!("directory {} is owned by uid 65534, not root", dir.display()));
    std::os::unix::fs::lchown(&dir, Some(0), None).unwrap();
    // A sticky directory (like /tmp, which the scratch directory is in)
    // leads to root's entries only.
    chmod(&dir, 0o1777);
    assert!(open_program(&prog).is_ok());
    std::os::unix::fs::lchown(&prog, Some(65534), None).unwrap();
    assert!(refused(&prog).contains("1777: group- or world-writable"));
    std::os::unix::fs::lchown(&prog, Some(0), None).unwrap();
    chmod(&dir, 0o755);
    // The file's own rules.
    chmod(&prog, 0o775);
    assert!(refused(&prog).contains("mode 0775 is group- or world-writable"));
    chmod(&prog, 0o755);
    assert_eq!(refused(&dir), "not a regular file");
    assert!(refused(&dir.join("missing")).contains("No such file"));
    assert!(refused(&prog.join("below")).contains("is not a directory"));
    assert_eq!(refused(Path::new("relative/prog")), "not an absolute path");
    // Links in checked directories: relative, absolute, through "..".
    std::os::unix::fs::symlink("prog", dir.join("rel")).unwrap();
    std::os::unix::fs::symlink(&prog, dir.join("abs")).unwrap();
    std::os::unix::fs::symlink("../198.18.0.10/prog", dir.join("up")).unwrap();
    for l in ["rel", "abs", "up"] {
        assert!(open_program(&dir.join(l)).is_ok(), "{l}: {:?}", open_program(&dir.join(l)).err());
    }
    // A link into a directory that fails: refused, naming that directory.
    let open = d.join("open");
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let elsewhere = open.join("prog");
    std::fs::copy(&prog, &elsewhere).unwrap();
    chmod(&elsewhere, 0o755);
    std::os::unix::fs::symlink(&elsewhere, dir.join("out")).unwrap();
    assert_eq!(
        refused(&dir.join("out")),
        format!("directory {} has mode 0777: group- or world-writable", open.display())
    );
    // A link in a failing directory is not followed.
    std::os::unix::fs::symlink(&prog, open.join("back")).unwrap();
    assert!(refused(&open.join("back")).contains("has mode 0777"));
    // Links that never end.
    std::os::unix::fs::symlink("loop", dir.join("loop")).unwrap();
    assert!(refused(&dir.join("loop")).contains("symbolic links"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// One listing of `scripts_dir` per move says which addresses may have
/// hooks: only those with a directory; none when `scripts_dir` does not
/// exist; every one when it cannot be listed, so that `discover` still
/// reports why.
#[test]
fn the_listing_of_scripts_dir_says_which_addresses_may_have_hooks() {
    let d = scratch("dirs");
    let other = ServiceAddr { addr: "198.18.0.11".parse().unwrap(), ..addr() };
    let dirs = Dirs::list(&d);
    assert!(dirs.may_have(&addr()));
    assert!(!dirs.may_have(&other), "no directory 198.18.0.11");
    let missing = Dirs::list(&d.join("absent"));
    assert!(!missing.may_have(&addr()) && !missing.may_have(&other));
    let file = d.join("a-file");
    std::fs::write(&file, "").unwrap();
    let unlistable = Dirs::list(&file);
    assert!(unlistable.may_have(&addr()) && unlistable.may_have(&other));
    std::fs::remove_dir_all(&d).unwrap();
}
