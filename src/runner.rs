//! The one bounded child runner, shared by hooks, service checks and
//! sendmail: start a program in its own process group (clean signal mask;
//! the caller gives the clean environment), optionally feed it bytes on
//! stdin, hand its output to the caller line by line (bounded in count and
//! length), and at the timeout stop the whole group with TERM, then KILL
//! after a grace. Whatever the child left in its group is stopped when it
//! ends, so no helper outlives its run. The libc parts are in
//! `sys::process` and `sys::signal`.
#![forbid(unsafe_code)]

use crate::sys::process::spawn_in_group;
use crate::sys::signal::{kill_process_group, Signal};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A line longer than this is cut (and marked) before anyone sees it.
pub(crate) const MAX_LINE_BYTES: usize = 1000;
/// How often the runner looks at the child (and calls `Watch::waiting`).
const POLL: Duration = Duration::from_millis(10);

/// How one run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
    /// `Watch::cancelled` said so; the group was stopped as at a timeout.
    Cancelled,
    CannotRun(String),
}

impl Exit {
    pub(crate) fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut => write!(f, "timed out (process group killed)"),
            Exit::Cancelled => write!(f, "stopped by the daemon (process group killed)"),
            Exit::CannotRun(e) => write!(f, "could not be started: {e}"),
        }
    }
}

/// The bounds of one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub timeout: Duration,
    /// After TERM at the timeout, how long the group gets before KILL.
    pub kill_grace: Duration,
    /// Output lines handed to `Watch::line`; the rest are only counted.
    /// 0: stdout and stderr go to /dev/null.
    pub max_lines: usize,
}

/// What the caller hears while the child runs. Both default to nothing.
pub(crate) trait Watch {
    /// One line of stdout or stderr, trailing white space removed, at most
    /// `MAX_LINE_BYTES` (then ending in ` [...]`).
    fn line(&mut self, _line: &str) {}
    /// Called about every 10 ms while waiting (the notifier keeps its
    /// channel moving from here).
    fn waiting(&mut self) {}
    /// Asked about every 10 ms: true stops the child's group at once, as
    /// at its timeout (the daemon is stopping, or a reload replaced it).
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// A `Watch` that hears nothing.
#[cfg(test)]
pub(crate) struct Quiet;
#[cfg(test)]
impl Watch for Quiet {}

/// The record of one run.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub exit: Exit,
    pub took: Duration,
    /// The last line of output, if any (also past `max_lines`: what a check
    /// printed last is what says why it failed).
    pub last_line: Option<String>,
    /// Lines not handed to `Watch::line` because of `max_lines`.
    pub dropped: usize,
}

/// Runs `cmd` to completion or timeout. `cmd` carries the program, its
/// arguments, environment and directory; the runner sets stdio, the
/// process group and the signal mask. `input` is written to stdin from a
/// thread of its own (a child that reads nothing cannot block us).
pub(crate) fn run(
    mut cmd: Command,
    input: Option<Vec<u8>>,
    limits: Limits,
    watch: &mut dyn Watch,
) -> Outcome {
    let start = Instant::now();
    let cannot = |e: std::io::Error| {
        let exit = Exit::CannotRun(e.to_string());
        Outcome { exit, took: start.elapsed(), last_line: None, dropped: 0 }
    };
    let output = match capture_output(&mut cmd, limits.max_lines) {
        Ok(o) => o,
        Err(e) => return cannot(e),
    };
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    let spawned = spawn_in_group(&mut cmd);
    // The Command holds our copies of the pipe's write end: without
    // dropping it, the reader would never see the end of the output.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return cannot(e),
    };
    let pgid = child.id() as i32;
    if let (Some(mut stdin), Some(bytes)) = (child.stdin.take(), input) {
        let _ = std::thread::Builder::new().name("child-input".into()).spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
    let (tx, rx) = mpsc::channel::<String>();
    let last = Arc::new(std::sync::Mutex::new(None::<String>));
    let skipped = Arc::new(AtomicUsize::new(0));
    if let Some(pipe) = output {
        copy_lines(Box::new(pipe), tx, limits.max_lines, skipped.clone(), last.clone());
    } else {
        drop(tx);
    }
    let exit = wait_for(&mut child, &rx, start + limits.timeout, &limits, watch);
    // Children the program left in its group (not daemons, which leave it
    // with setsid) are not allowed to outlive it.
    let _ = kill_process_group(pgid, Signal::Term);
    drain(&rx, watch);
    let last_line = last.lock().ok().and_then(|mut l| l.take());
    Outcome { exit, took: start.elapsed(), last_line, dropped: skipped.load(Ordering::Relaxed) }
}

/// Points the child's stdout and stderr at one pipe (the last line is
/// the last written) and returns its read end, or at /dev/null when no
/// line is wanted.
fn capture_output(cmd: &mut Command, max_lines: usize) -> std::io::Result<Option<std::fs::File>> {
    if max_lines == 0 {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        return Ok(None);
    }
    let (read, write) = crate::sys::process::pipe()?;
    let second = write.try_clone()?;
    cmd.stdout(write).stderr(second);
    Ok(Some(read))
}

/// Hands the child's lines to `watch` until it exits, times out at
/// `deadline` or is cancelled (its group is then stopped).
fn wait_for(
    child: &mut std::process::Child,
    rx: &mpsc::Receiver<String>,
    deadline: Instant,
    limits: &Limits,
    watch: &mut dyn Watch,
) -> Exit {
    let pgid = child.id() as i32;
    loop {
        // Bounded: a child that prints as fast as we read must not keep
        // us from checking its timeout.
        for line in rx.try_iter().take(limits.max_lines.max(1)) {
            watch.line(&line);
        }
        watch.waiting();
        match child.try_wait() {
            Ok(Some(status)) => return exit_of(status),
            Ok(None) if Instant::now() >= deadline => {
                stop_group(pgid, child, limits.kill_grace);
                return Exit::TimedOut;
            }
            Ok(None) if watch.cancelled() => {
                stop_group(pgid, child, limits.kill_grace);
                return Exit::Cancelled;
            }
            // Without output to wait for (none captured, or the child closed
            // it), sleep instead: recv would return at once and spin.
            Ok(None) => match rx.recv_timeout(POLL) {
                Ok(line) => watch.line(&line),
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(POLL),
                Err(RecvTimeoutError::Timeout) => {}
            },
            Err(e) => return Exit::CannotRun(e.to_string()),
        }
    }
}

/// What is still in the pipes, for at most a second: a descendant that
/// escaped the group may hold them open and print forever. Until the
/// pipe's end, not the first pause: under load the copying thread may not
/// have read the last line yet, and for a check the last line is the one
/// that says why.
fn drain(rx: &mpsc::Receiver<String>, watch: &mut dyn Watch) {
    let drain_until = Instant::now() + Duration::from_secs(1);
    while let Some(left) = drain_until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => watch.line(&line),
            Err(_) => break,
        }
    }
}

/// TERM to the group, KILL after `grace` (sooner if the leader is gone
/// already: what it left in the group is killed anyway), then reaps it.
fn stop_group(pgid: i32, child: &mut std::process::Child, grace: Duration) {
    let _ = kill_process_group(pgid, Signal::Term);
    let until = Instant::now() + grace;
    while Instant::now() < until && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill_process_group(pgid, Signal::Other(9 /* SIGKILL */));
    let _ = child.wait();
}

fn exit_of(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        _ => Exit::CannotRun("unknown status".into()),
    }
}

/// Cuts `line` to `MAX_LINE_BYTES` on a character boundary, marked.
pub(crate) fn bound_line(bytes: &[u8]) -> String {
    let mut line = String::from_utf8_lossy(bytes).trim_end().to_string();
    if line.len() > MAX_LINE_BYTES {
        let mut cut = MAX_LINE_BYTES;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str(" [...]");
    }
    line
}

/// Reads lines from a pipe on a small thread and forwards the first
/// `max`, bounded; later ones are only counted in `skipped`,
/// but the latest non-empty one is always kept in `last`. The pipe is
/// drained to its end so the child never blocks on a full pipe.
fn copy_lines(
    pipe: Box<dyn Read + Send>,
    tx: mpsc::Sender<String>,
    max: usize,
    skipped: Arc<AtomicUsize>,
    last: Arc<std::sync::Mutex<Option<String>>>,
) {
    let _ = std::thread::Builder::new().name("child-output".into()).spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        let mut sent = 0usize;
        loop {
            buf.clear();
            // Bounded read: a line without newline cannot grow memory.
            match (&mut reader).take(64 * 1024).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let keep_last = buf.iter().any(|b| !b.is_ascii_whitespace());
                    if sent >= max {
                        skipped.fetch_add(1, Ordering::Relaxed);
                        if keep_last {
                            if let Ok(mut l) = last.lock() {
                                *l = Some(bound_line(&buf));
                            }
                        }
                        continue;
                    }
                    sent += 1;
                    let line = bound_line(&buf);
                    if keep_last {
                        if let Ok(mut l) = last.lock() {
                            *l = Some(line.clone());
                        }
                    }
                    // The receiver may be gone: keep draining anyway.
                    let _ = tx.send(line);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script).env_clear().env("PATH", "/usr/bin:/bin").current_dir("/");
        c
    }

    fn limits(timeout_ms: u64, max_lines: usize) -> Limits {
        Limits {
            timeout: Duration::from_millis(timeout_ms),
            kill_grace: Duration::from_millis(200),
            max_lines,
        }
    }

    struct Lines(Vec<String>);
    impl Watch for Lines {
        fn line(&mut self, l: &str) {
            self.0.push(l.to_string());
        }
    }

    #[test]
    fn exit_codes_signals_and_last_line() {
        let mut seen = Lines(Vec::new());
        let o = run(sh("echo one; echo two >&2; echo three; exit 4"), None, limits(5000, 10), &mut seen);
        assert_eq!(o.exit, Exit::Code(4));
        // One pipe for both streams: written order is kept.
        assert_eq!(seen.0, ["one", "two", "three"]);
        let o = run(sh("echo one; echo two >&2"), None, limits(5000, 10), &mut Quiet);
        assert_eq!(o.last_line.as_deref(), Some("two"));
        let o = run(sh("kill -9 $$"), None, limits(5000, 10), &mut Quiet);
        assert_eq!(o.exit, Exit::Signal(9));
        let o = run(Command::new("/nonexistent/x"), None, limits(5000, 10), &mut Quiet);
        assert!(matches!(o.exit, Exit::CannotRun(_)), "{:?}", o.exit);
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let d = std::env::temp_dir().join(format!("ipfo-runner-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let pidfile = d.join("pids");
        let script = format!("sleep 100 & echo $! > {p}; echo $$ >> {p}; sleep 100", p = pidfile.display());
        let start = Instant::now();
        let o = run(sh(&script), None, limits(500, 10), &mut Quiet);
        assert_eq!(o.exit, Exit::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
        let text = std::fs::read_to_string(&pidfile).unwrap();
        let pids: Vec<i32> = text.lines().map(|l| l.trim().parse().unwrap()).collect();
        // Nothing of the group is left running (an orphan killed with it
        // may stay a zombie until init reaps it).
        std::thread::sleep(Duration::from_millis(100));
        for pid in pids {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            assert!(stat.is_empty() || stat.contains(") Z "), "{pid} survived: {stat}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn output_is_bounded_in_lines_and_length_and_the_last_line_kept() {
        let mut seen = Lines(Vec::new());
        let script = "i=0; while [ $i -lt 500 ]; do echo line$i; i=$((i+1)); done; \
                      head -c 5000 /dev/zero | tr '\\0' x; echo; echo the end";
        let o = run(sh(script), None, limits(10_000, 20), &mut seen);
        assert_eq!(o.exit, Exit::Code(0));
        assert_eq!(seen.0.len(), 20);
        assert_eq!(seen.0[0], "line0");
        assert_eq!(o.dropped, 482);
        assert_eq!(o.last_line.as_deref(), Some("the end"));
        assert_eq!(bound_line(&[b'y'; 3000]).len(), MAX_LINE_BYTES + " [...]".len());
    }

    #[test]
    fn endless_output_does_not_hide_the_timeout() {
        let o = run(sh("yes"), None, limits(500, 5), &mut Quiet);
        assert_eq!(o.exit, Exit::TimedOut);
        assert!(o.took < Duration::from_secs(4), "{:?}", o.took);
    }

    struct CancelAfter(Instant);
    impl Watch for CancelAfter {
        fn cancelled(&mut self) -> bool {
            Instant::now() >= self.0
        }
    }

    #[test]
    fn a_cancelled_run_is_stopped_at_once() {
        let start = Instant::now();
        let mut w = CancelAfter(start + Duration::from_millis(200));
        let o = run(sh("sleep 100"), None, limits(100_000, 5), &mut w);
        assert_eq!(o.exit, Exit::Cancelled);
        assert!(o.took < Duration::from_secs(2), "{:?}", o.took);
    }

    struct Count(usize);
    impl Watch for Count {
        fn waiting(&mut self) {
            self.0 += 1;
        }
    }

    #[test]
    fn waiting_without_output_does_not_spin() {
        for max_lines in [0, 5] {
            let mut polls = Count(0);
            let o = run(sh("exec >/dev/null 2>&1; sleep 0.5"), None, limits(5000, max_lines), &mut polls);
            assert_eq!(o.exit, Exit::Code(0));
            // About one poll per 10 ms; spinning would be many thousands.
            assert!(polls.0 < 200, "{} polls in {:?}", polls.0, o.took);
        }
    }

    #[test]
    fn input_is_fed_to_stdin() {
        let mut seen = Lines(Vec::new());
        let o = run(sh("cat"), Some(b"hello\nworld\n".to_vec()), limits(5000, 10), &mut seen);
        assert_eq!(o.exit, Exit::Code(0));
        assert_eq!(seen.0, ["hello", "world"]);
    }
}
