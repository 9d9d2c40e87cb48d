//! Service health checks (docs/design.md §9), off the monitor's path: one worker
//! thread per check runs it every `check_interval` through the bounded
//! child runner (own process group, clean environment, killed with its
//! group at `check_timeout`); one coordinator thread owns the fall/rise
//! counting (`board`) and tells the monitor two things: this node's
//! fitness when it changes (`News::Fitness`) and the checks' state for
//! status (`News::Views`). A reload replaces the set of checks; a check
//! that keeps its name and definition keeps its counting.

pub(super) mod board;

pub(super) use board::{Change, LastRun, View};

use super::post::Post;
use crate::config::{CheckTiming, Config};
use crate::runner::{self, Exit, Limits};
use board::Board;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// After TERM at a check's timeout, how long its group gets before KILL.
const KILL_GRACE: Duration = Duration::from_millis(500);

/// One check as configured, with its timing in force.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Spec {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    timing: CheckTiming,
}

fn specs(cfg: &Config) -> Vec<Spec> {
    cfg.checks
        .iter()
        .map(|c| Spec {
            name: c.name.clone(),
            program: c.program.clone(),
            args: c.args.clone(),
            timing: cfg.check_timing(c),
        })
        .collect()
}

/// The environment of a check: a hook's (ipfailoverd(8), HOOKS, for the
/// first service address) plus `IPFAILOVER_CHECK`, `IPFAILOVER_ROLE` and
/// `IPFAILOVER_CHECK_TIMEOUT` (its timeout in seconds, for a program that
/// bounds its own waits, such as curl's --max-time); nothing inherited
/// from the daemon.
fn environment(cfg: &Config, spec: &Spec) -> Vec<(&'static str, String)> {
    let name = &spec.name;
    let first = cfg.addresses.first();
    vec![
        ("IPFAILOVER_STAGE", "check".to_string()),
        ("IPFAILOVER_ADDRESS", first.map(|a| a.addr.to_string()).unwrap_or_default()),
        ("IPFAILOVER_PREFIX", first.map(|a| a.prefix.to_string()).unwrap_or_default()),
        ("IPFAILOVER_INTERFACE", first.map(|a| a.interface.to_string()).unwrap_or_default()),
        ("IPFAILOVER_PEER", cfg.peer.map(|p| p.to_string()).unwrap_or_default()),
        ("IPFAILOVER_REASON", String::new()),
        ("IPFAILOVER_CHECK", name.to_string()),
        ("IPFAILOVER_ROLE", cfg.role.as_str().to_string()),
        ("IPFAILOVER_CHECK_TIMEOUT", format!("{:.3}", spec.timing.timeout.as_secs_f64())),
        ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin".to_string()),
    ]
}

enum Msg {
    /// A worker of set `set` ran check `index`.
    Ran {
        set: u64,
        index: usize,
        run: LastRun,
    },
    Reload(Box<Config>),
    /// The daemon is stopping: stop every check's group, then answer.
    Stop(Sender<()>),
}

/// What the checks tell the monitor, through its `Post`.
#[derive(Debug)]
pub(super) enum News {
    /// This node's fitness changed; `failing`: the first failing check's
    /// name and last output line.
    Fitness { fit: bool, failing: Option<(String, String)> },
    /// The service checks as they stand, for status: after every run and
    /// every reload.
    Views(Vec<View>),
}

/// The monitor's handle on the checks thread.
pub(super) struct Checks {
    tx: Sender<Msg>,
}

impl Checks {
    /// Starts the coordinator and a worker per check of `cfg`.
    pub(super) fn spawn(cfg: &Config, events: Post<News>) -> std::io::Result<Checks> {
        let (tx, rx) = mpsc::channel();
        let me = tx.clone();
        let cfg = cfg.clone();
        std::thread::Builder::new().name("checks".into()).spawn(move || coordinate(cfg, rx, me, events))?;
        Ok(Checks { tx })
    }

    /// Restarts the checks with the set of `cfg`.
    pub(super) fn reload(&self, cfg: &Config) {
        let _ = self.tx.send(Msg::Reload(Box::new(cfg.clone())));
    }
}

impl Drop for Checks {
    /// When the monitor ends, no check may outlive the daemon: every
    /// running check's group is stopped (TERM, then KILL) before it exits.
    fn drop(&mut self) {
        let (ack, acked) = mpsc::channel();
        if self.tx.send(Msg::Stop(ack)).is_ok() {
            let _ = acked.recv_timeout(KILL_GRACE + Duration::from_secs(1));
        }
    }
}

/// A running set of checks: dropping `stop` ends its workers, stopping a
/// run in progress; `done` disconnects when the last of them has ended.
struct Set {
    id: u64,
    specs: Vec<Spec>,
    board: Board,
    stop: Vec<Sender<()>>,
    done: Receiver<()>,
}

fn start(cfg: &Config, id: u64, tx: &Sender<Msg>, old: Option<Set>) -> Set {
    let specs = specs(cfg);
    let counts: Vec<(String, u32, u32)> =
        specs.iter().map(|s| (s.name.clone(), s.timing.fall, s.timing.rise)).collect();
    let mut board = Board::new(&counts);
    if let Some(old) = old {
        // Unchanged checks keep their counting: a reload must not make an
        // unfit node look fit until its checks fail again.
        let kept: Vec<usize> =
            specs.iter().map(|s| old.specs.iter().position(|o| o == s).unwrap_or(usize::MAX)).collect();
        board.carry(&old.board, &kept);
        drop(old);
    }
    let mut stops = Vec::new();
    let (done_tx, done) = mpsc::channel::<()>();
    for (index, spec) in specs.iter().enumerate() {
        let (stop_tx, stop_rx) = mpsc::channel();
        let (spec, env, tx) = (spec.clone(), environment(cfg, spec), tx.clone());
        let name = format!("check-{}", spec.name);
        let done_tx = done_tx.clone();
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            worker(&spec, &env, id, index, &tx, &stop_rx);
            drop(done_tx);
        });
        if let Err(e) = spawned {
            crate::log::error!("cannot start check {}: {e}", specs[index].name);
        }
        stops.push(stop_tx);
    }
    Set { id, specs, board, stop: stops, done }
}

fn coordinate(cfg: Config, rx: Receiver<Msg>, me: Sender<Msg>, events: Post<News>) {
    let mut set = start(&cfg, 0, &me, None);
    let _ = events.send(News::Views(views(&set.board, set.specs.len())));
    for msg in rx {
        let was_fit = set.board.fit();
        let change = match msg {
            Msg::Ran { set: id, index, run } if id == set.id => set.board.record(index, run),
            Msg::Ran { .. } => continue,
            Msg::Stop(ack) => {
                let Set { stop, done, .. } = set;
                drop(stop);
                let _ = done.recv_timeout(KILL_GRACE + Duration::from_millis(500));
                let _ = ack.send(());
                return;
            }
            Msg::Reload(cfg) => {
                set = start(&cfg, set.id + 1, &me, Some(set));
                let fit = set.board.fit();
                (fit != was_fit).then(|| set.board.change())
            }
        };
        if let Some(Change { fit, failing }) = change {
            if events.send(News::Fitness { fit, failing }).is_err() {
                return;
            }
        }
        if events.send(News::Views(views(&set.board, set.specs.len()))).is_err() {
            return;
        }
    }
}

fn views(board: &Board, n: usize) -> Vec<View> {
    (0..n).filter_map(|i| board.view(i)).collect()
}

/// Stops a run when the coordinator drops the worker's set.
struct Stoppable<'a>(&'a Receiver<()>);

impl runner::Watch for Stoppable<'_> {
    fn cancelled(&mut self) -> bool {
        !matches!(self.0.try_recv(), Err(mpsc::TryRecvError::Empty))
    }
}

/// The check's program, opened and checked by the hooks' rules
/// (`hooks::open_program`): a regular executable file owned by root and
/// writable by nobody else, reached from `/` through directories that are
/// root's and writable by nobody else (a check runs as root). The command
/// executes the very file checked (`sys::process::command_for_file`). A
/// refused program counts as a failing run.
fn command(program: &std::path::Path) -> Result<Command, String> {
    let file = crate::hooks::open_program(program).map_err(|why| format!("{}: {why}", program.display()))?;
    let mut cmd = crate::sys::process::command_for_file(file);
    std::os::unix::process::CommandExt::arg0(&mut cmd, program);
    Ok(cmd)
}

/// Runs one check every interval (measured from the start of a run; a
/// run longer than the interval is followed at once by the next) until
/// the coordinator drops `stop`.
fn worker(
    spec: &Spec,
    env: &[(&'static str, String)],
    set: u64,
    index: usize,
    tx: &Sender<Msg>,
    stop: &Receiver<()>,
) {
    // The last refusal logged: one line when the program is refused, not
    // one per run, and one when it runs again.
    let mut refused: Option<String> = None;
    loop {
        let started = Instant::now();
        let run = match command(&spec.program) {
            Err(why) => {
                if refused.as_ref() != Some(&why) {
                    crate::log::error!("check {}: program refused, the check fails: {why}", spec.name);
                }
                refused = Some(why.clone());
                let exit = Exit::CannotRun(why.clone());
                LastRun { exit, took: Duration::ZERO, line: Some(format!("refused: {why}")), at: started }
            }
            Ok(mut cmd) => {
                if refused.take().is_some() {
                    crate::log::notice!(
                        "check {}: program {} accepted again",
                        spec.name,
                        spec.program.display()
                    );
                }
                cmd.args(&spec.args).env_clear().envs(env.iter().map(|(k, v)| (*k, v))).current_dir("/");
                let limits = Limits { timeout: spec.timing.timeout, kill_grace: KILL_GRACE, max_lines: 1 };
                let o = runner::run(cmd, None, limits, &mut Stoppable(stop));
                if o.exit == Exit::Cancelled {
                    return;
                }
                LastRun { exit: o.exit, took: o.took, line: o.last_line, at: started }
            }
        };
        if tx.send(Msg::Ran { set, index, run }).is_err() {
            return;
        }
        let next = started + spec.timing.interval;
        match stop.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_safe_programs_run_and_the_opened_file_is_the_one_executed() {
        let d = std::env::temp_dir().join(format!("ipfo-checkcmd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let prog = d.join("prog");
        std::fs::write(&prog, "#!/bin/sh\necho first\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = command(&prog).err().unwrap();
        assert!(why.contains("writable") || why.contains("not root"), "{why}");
        assert!(command(&d.join("missing")).err().unwrap().contains("No such file"));
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        if crate::sys::fs::euid() != 0 {
            return; // owned by us, not root: refused, rightly
        }
        let cmd = command(&prog).unwrap();
        // Replaced after the check: the checked file still runs.
        std::fs::remove_file(&prog).unwrap();
        std::fs::write(&prog, "#!/bin/sh\necho second\n").unwrap();
        let limits = Limits { timeout: Duration::from_secs(5), kill_grace: KILL_GRACE, max_lines: 5 };
        let o = runner::run(cmd, None, limits, &mut runner::Quiet);
        assert_eq!((o.exit, o.last_line.as_deref()), (Exit::Code(0), Some("first")));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
