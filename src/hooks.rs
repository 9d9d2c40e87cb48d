//! Operator hooks (SPEC 3 and 6): discovery in Apple's layout and order, the
//! safety filter, and running one hook with the documented arguments and
//! environment, a timeout on its whole process group and its output copied
//! to the log.
#![forbid(unsafe_code)]

use crate::config::ServiceAddr;
use crate::log;
use crate::sys;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Output lines copied to the log per hook; the rest is counted and dropped
/// (a hook that prints megabytes must not fill the disk or memory).
const MAX_LINES: usize = 200;
const MAX_LINE_BYTES: usize = 1000;
/// After TERM at the timeout, how long the group gets before KILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Test,
    PreAcq,
    PostAcq,
    PreRel,
    PostRel,
}

impl Stage {
    /// `$1` and `IPFAILOVER_STAGE`.
    pub fn arg(self) -> &'static str {
        match self {
            Stage::Test => "test",
            Stage::PreAcq => "preacq",
            Stage::PostAcq => "postacq",
            Stage::PreRel => "prerel",
            Stage::PostRel => "postrel",
        }
    }

    /// File name prefix (`Test` is an exact name).
    fn prefix(self) -> &'static str {
        match self {
            Stage::Test => "Test",
            Stage::PreAcq => "PreAcq",
            Stage::PostAcq => "PostAcq",
            Stage::PreRel => "PreRel",
            Stage::PostRel => "PostRel",
        }
    }
}

/// A hook that passed the checks, held open: `run` executes this very file
/// (`sys::process::command_for_file`), whatever its path names by then.
#[derive(Debug)]
pub struct Hook {
    /// Where it was found: for the log, the mail and `IPFAILOVER_HOOK`.
    pub path: PathBuf,
    file: File,
}

/// The hooks of one stage for one address, in byte-wise name order, and
/// the files that were skipped with the reason.
///
/// As sudo does for its files, every step from `scripts_dir` down must be
/// root's and writable by nobody else: `scripts_dir`, its `<address>`
/// directory and the hook. The directories are opened one from the other
/// and each hook relative to its directory, never through a symbolic link
/// below `scripts_dir`, and every check looks at the open descriptor
/// (`fstat`), so what is checked is what runs.
pub fn discover(scripts_dir: &Path, addr: &ServiceAddr, stage: Stage) -> (Vec<Hook>, Vec<String>) {
    let dir_name = addr.addr.to_string();
    let dir = scripts_dir.join(&dir_name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut names: Vec<OsString> = entries
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| match stage {
            Stage::Test => n.as_bytes() == b"Test",
            _ => n.as_bytes().starts_with(stage.prefix().as_bytes()),
        })
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let skip = |path: &Path, why: &str| format!("skipping hook {}: {why}", path.display());
    let sub = match open_dirs(scripts_dir, &dir_name) {
        Ok(sub) => sub,
        Err(why) => return (Vec::new(), names.iter().map(|n| skip(&dir.join(n), &why)).collect()),
    };
    let mut run = Vec::new();
    let mut skipped = Vec::new();
    for n in names {
        let path = dir.join(&n);
        match open_hook(&sub, &n) {
            Ok(file) => run.push(Hook { path, file }),
            Err(why) => skipped.push(skip(&path, &why)),
        }
    }
    (run, skipped)
}

/// `scripts_dir`, then its directory `name`, opened one from the other and
/// each checked; the second is returned for opening hooks in it.
fn open_dirs(scripts_dir: &Path, name: &str) -> Result<File, String> {
    let top =
        sys::fs::open_dir(scripts_dir).map_err(|e| format!("directory {}: {e}", scripts_dir.display()))?;
    check_dir(&top, scripts_dir)?;
    let path = scripts_dir.join(name);
    let sub = sys::fs::open_dir_at(&top, OsStr::new(name)).map_err(|e| {
        // O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a link; say which it was.
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => format!("directory {} is a symbolic link", path.display()),
            _ => format!("directory {}: {e}", path.display()),
        }
    })?;
    check_dir(&sub, &path)?;
    Ok(sub)
}

fn check_dir(dir: &File, path: &Path) -> Result<(), String> {
    let meta = dir.metadata().map_err(|e| format!("directory {}: {e}", path.display()))?;
    match refuse_dir(meta.uid(), meta.mode()) {
        Some(why) => Err(format!("directory {} {why}", path.display())),
        None => Ok(()),
    }
}

/// Opens hook `name` in `dir` (O_PATH, no link followed) and checks it.
fn open_hook(dir: &File, name: &OsStr) -> Result<File, String> {
    let file = sys::fs::open_path_at(dir, name).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    match refuse_file(meta.file_type().is_file(), meta.uid(), meta.mode()) {
        Some(why) => Err(why),
        None => Ok(file),
    }
}

/// Why a directory on the way to a hook must not be trusted, if so: only
/// root may change what a hook is (a hook runs as root).
pub fn refuse_dir(uid: u32, mode: u32) -> Option<String> {
    if uid != 0 {
        return Some(format!("is owned by uid {uid}, not root"));
    }
    if mode & 0o022 != 0 {
        return Some(format!("has mode {:04o}: group- or world-writable", mode & 0o7777));
    }
    None
}

/// Why a hook must not run, if it must not: only regular, executable files
/// owned by root and writable by nobody else run (a hook runs as root).
pub fn refuse_file(regular: bool, uid: u32, mode: u32) -> Option<String> {
    if !regular {
        return Some("not a regular file".into());
    }
    if uid != 0 {
        return Some(format!("owned by uid {uid}, not root"));
    }
    if mode & 0o022 != 0 {
        return Some(format!("mode {:04o} is group- or world-writable", mode & 0o7777));
    }
    if mode & 0o100 == 0 {
        return Some("not executable by its owner".into());
    }
    None
}

/// How one hook ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
    CannotRun(String),
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut => write!(f, "timed out (process group killed)"),
            Exit::CannotRun(e) => write!(f, "could not be started: {e}"),
        }
    }
}

/// The record of one hook run, for the log and the mail.
#[derive(Clone, Debug)]
pub struct Ran {
    pub path: PathBuf,
    pub exit: Exit,
    pub took: Duration,
}

/// What the hook is told, SPEC 6.
pub struct Context<'a> {
    pub stage: Stage,
    pub addr: &'a ServiceAddr,
    pub peer: Option<std::net::IpAddr>,
    pub reason: &'a str,
}

/// The environment of a hook: exactly these variables, nothing inherited.
pub fn environment(ctx: &Context) -> Vec<(&'static str, String)> {
    vec![
        ("IPFAILOVER_STAGE", ctx.stage.arg().to_string()),
        ("IPFAILOVER_ADDRESS", ctx.addr.addr.to_string()),
        ("IPFAILOVER_PREFIX", ctx.addr.prefix.to_string()),
        ("IPFAILOVER_INTERFACE", ctx.addr.interface.to_string()),
        ("IPFAILOVER_PEER", ctx.peer.map(|p| p.to_string()).unwrap_or_default()),
        ("IPFAILOVER_REASON", ctx.reason.to_string()),
        ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin".to_string()),
    ]
}

/// Runs one hook to completion or timeout. Its stdout and stderr go to the
/// log line by line (bounded); at the timeout its process group gets TERM,
/// then KILL. The file executed is the one `discover` checked; its
/// `argv[0]` and `IPFAILOVER_HOOK` are its path (a script's `$0` is the
/// descriptor it is read through, `/proc/self/fd/N`).
pub fn run(hook: &Hook, ctx: &Context, timeout: Duration) -> Ran {
    let start = Instant::now();
    let path = hook.path.as_path();
    let name = path.display().to_string();
    let mut cmd = match hook.file.try_clone() {
        Ok(file) => sys::process::command_for_file(file),
        Err(e) => {
            log::error(&format!("hook {name}: cannot start: {e}"));
            return Ran { path: path.into(), exit: Exit::CannotRun(e.to_string()), took: start.elapsed() };
        }
    };
    std::os::unix::process::CommandExt::arg0(&mut cmd, path);
    cmd.arg(ctx.stage.arg())
        .arg(ctx.addr.interface.as_str())
        .arg(format!("{}/{}", ctx.addr.addr, ctx.addr.prefix))
        .env_clear()
        .envs(environment(ctx))
        .env("IPFAILOVER_HOOK", path)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    crate::sys::signal::clean_signals_for_child(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            log::error(&format!("hook {name}: cannot start: {e}"));
            return Ran { path: path.into(), exit: Exit::CannotRun(e.to_string()), took: start.elapsed() };
        }
    };
    let pgid = child.id() as i32;
    let (tx, rx) = mpsc::channel::<String>();
    // Lines past MAX_LINES are only counted, by the copying threads: a hook
    // that prints millions of lines costs no allocation per line.
    let skipped = Arc::new(AtomicUsize::new(0));
    if let Some(out) = child.stdout.take() {
        copy_lines(out, tx.clone(), skipped.clone());
    }
    if let Some(err) = child.stderr.take() {
        copy_lines(err, tx, skipped.clone());
    }
    let deadline = start + timeout;
    let mut logged = 0usize;
    let mut dropped = 0usize;
    let mut log_line = |line: String| {
        if logged < MAX_LINES {
            logged += 1;
            log::info(&format!(
                "hook {}: {line}",
                path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
            ));
        } else {
            dropped += 1;
        }
    };
    let exit = loop {
        // Bounded: a hook that prints as fast as we read must not keep us
        // from checking its timeout.
        for line in rx.try_iter().take(MAX_LINES) {
            log_line(line);
        }
        match child.try_wait() {
            Ok(Some(status)) => break exit_of(status),
            Ok(None) if Instant::now() >= deadline => {
                log::error(&format!(
                    "hook {name}: still running after {:?}: stopping its process group",
                    timeout
                ));
                let _ = crate::sys::signal::kill_process_group(pgid, crate::sys::signal::Signal::Term);
                let grace = Instant::now() + KILL_GRACE;
                while Instant::now() < grace && matches!(child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = crate::sys::signal::kill_process_group(pgid, crate::sys::signal::Signal::Other(9));
                let _ = child.wait();
                break Exit::TimedOut;
            }
            Ok(None) => {
                if let Ok(line) = rx.recv_timeout(Duration::from_millis(10)) {
                    log_line(line);
                }
            }
            Err(e) => break Exit::CannotRun(e.to_string()),
        }
    };
    // Children the hook left in its group (not daemons, which leave it with
    // setsid) are not allowed to outlive it.
    let _ = crate::sys::signal::kill_process_group(pgid, crate::sys::signal::Signal::Term);
    // What is still in the pipes, for at most a second: a descendant that
    // escaped the group may hold them open and print forever.
    let drain_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < drain_until {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => log_line(line),
            Err(_) => break,
        }
    }
    let dropped = dropped + skipped.load(Ordering::Relaxed);
    if dropped > 0 {
        log::warn(&format!("hook {name}: {dropped} more output lines not logged"));
    }
    let took = start.elapsed();
    let level = if exit.success() { log::Level::Info } else { log::Level::Warning };
    log::log(
        level,
        &format!("hook {name} ({}): {exit} after {}", ctx.stage.arg(), crate::engine::secs(took)),
    );
    Ran { path: path.into(), exit, took }
}

fn exit_of(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        _ => Exit::CannotRun("unknown status".into()),
    }
}

/// Reads lines from a hook's pipe on a small thread and forwards the first
/// `MAX_LINES`, truncated; later ones are only counted in `skipped`. The
/// pipe is drained to its end so the hook never blocks on a full pipe.
fn copy_lines(pipe: impl Read + Send + 'static, tx: mpsc::Sender<String>, skipped: Arc<AtomicUsize>) {
    let _ = std::thread::Builder::new().name("hook-output".into()).spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        let mut sent = 0usize;
        loop {
            buf.clear();
            // Bounded read: a line without newline cannot grow memory.
            match (&mut reader).take(64 * 1024).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) if sent >= MAX_LINES => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {
                    sent += 1;
                    let mut line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if line.len() > MAX_LINE_BYTES {
                        let mut cut = MAX_LINE_BYTES;
                        while !line.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        line.truncate(cut);
                        line.push_str(" [...]");
                    }
                    // The receiver may be gone: keep draining anyway.
                    let _ = tx.send(line);
                }
            }
        }
    });
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
