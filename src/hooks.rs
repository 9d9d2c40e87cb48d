//! Operator hooks (SPEC 3 and 6): discovery in Apple's layout and order, the
//! safety filter, and running one hook with the documented arguments and
//! environment, a timeout on its whole process group and its output copied
//! to the log.
#![forbid(unsafe_code)]

use crate::config::ServiceAddr;
use crate::log;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// The hooks of one stage for one address, in byte-wise name order, and
/// the files that were skipped with the reason.
pub fn discover(scripts_dir: &Path, addr: &ServiceAddr, stage: Stage) -> (Vec<PathBuf>, Vec<String>) {
    let dir = scripts_dir.join(addr.addr.to_string());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut names: Vec<Vec<u8>> = entries
        .flatten()
        .map(|e| e.file_name().into_encoded_bytes())
        .filter(|n| match stage {
            Stage::Test => n == b"Test",
            _ => n.starts_with(stage.prefix().as_bytes()),
        })
        .collect();
    names.sort();
    let mut run = Vec::new();
    let mut skipped = Vec::new();
    for n in names {
        let path = dir.join(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(n));
        match refuse_reason(&path) {
            None => run.push(path),
            Some(why) => skipped.push(format!("skipping hook {}: {why}", path.display())),
        }
    }
    (run, skipped)
}

/// Why a hook must not run, if it must not: only regular, executable files
/// owned by root and writable by nobody else run (a hook runs as root).
pub fn refuse_reason(path: &Path) -> Option<String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(e.to_string()),
    };
    if !meta.file_type().is_file() {
        return Some("not a regular file".into());
    }
    if meta.uid() != 0 {
        return Some(format!("owned by uid {}, not root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!("mode {:04o} is group- or world-writable", meta.mode() & 0o7777));
    }
    if meta.mode() & 0o100 == 0 {
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
/// then KILL.
pub fn run(path: &Path, ctx: &Context, timeout: Duration) -> Ran {
    let start = Instant::now();
    let name = path.display().to_string();
    let mut cmd = Command::new(path);
    cmd.arg(ctx.stage.arg())
        .arg(ctx.addr.interface.as_str())
        .arg(format!("{}/{}", ctx.addr.addr, ctx.addr.prefix))
        .env_clear()
        .envs(environment(ctx))
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
