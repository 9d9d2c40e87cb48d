//! Operator hooks (docs/design.md §3 and 6): discovery in Apple's layout and order, the
//! safety filter, and running one hook with the documented arguments and
//! environment, a timeout on its whole process group and its output copied
//! to the log.
#![forbid(unsafe_code)]

use crate::config::ServiceAddr;
use crate::log;
use crate::runner;
use crate::sys;
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Output lines copied to the log per hook; the rest is counted and dropped
/// (a hook that prints megabytes must not fill the disk or memory).
const MAX_LINES: usize = 200;
/// After TERM at the timeout, how long the group gets before KILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Test,
    PreAcq,
    PostAcq,
    PreRel,
    PostRel,
}

impl Stage {
    pub(crate) const ALL: [Stage; 5] =
        [Stage::Test, Stage::PreAcq, Stage::PostAcq, Stage::PreRel, Stage::PostRel];

    /// `$1` and `IPFAILOVER_STAGE`.
    pub(crate) fn arg(self) -> &'static str {
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
pub(crate) struct Hook {
    /// Where it was found: for the log, the mail and `IPFAILOVER_HOOK`.
    pub path: PathBuf,
    file: File,
}

/// A hook found but not run, and why; shown as `skipping hook PATH: WHY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub path: PathBuf,
    pub why: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipping hook {}: {}", self.path.display(), self.why)
    }
}

/// The names in `scripts_dir`, listed once per move: an address whose
/// directory is not among them has no hooks, and `discover` need not open
/// anything for it (a move of 256 addresses made two failing opens per
/// address, a twentieth of the mover's time; issue 32). A `scripts_dir`
/// that does not exist has no hooks; one that cannot be listed (say, its
/// permissions) lets every address be looked at, so that `discover`
/// reports the problem as it always did.
pub(crate) struct Dirs(Option<HashSet<OsString>>);

impl Dirs {
    pub(crate) fn list(scripts_dir: &Path) -> Dirs {
        match std::fs::read_dir(scripts_dir) {
            Ok(entries) => Dirs(Some(entries.flatten().map(|e| e.file_name()).collect())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Dirs(Some(HashSet::new())),
            Err(_) => Dirs(None),
        }
    }

    /// Whether `addr` may have hooks (its directory was listed, or nothing
    /// could be listed).
    pub(crate) fn may_have(&self, addr: &ServiceAddr) -> bool {
        self.0.as_ref().is_none_or(|names| names.contains(OsStr::new(&addr.addr.to_string())))
    }
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
pub(crate) fn discover(scripts_dir: &Path, addr: &ServiceAddr, stage: Stage) -> (Vec<Hook>, Vec<Skipped>) {
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
    let skip = |path: PathBuf, why: &str| Skipped { path, why: why.to_string() };
    let sub = match open_dirs(scripts_dir, &dir_name) {
        Ok(sub) => sub,
        Err(why) => return (Vec::new(), names.iter().map(|n| skip(dir.join(n), &why)).collect()),
    };
    let mut run = Vec::new();
    let mut skipped = Vec::new();
    for n in names {
        let path = dir.join(&n);
        match open_hook(&sub, &n) {
            Ok(file) => run.push(Hook { path, file }),
            Err(why) => skipped.push(skip(path, &why)),
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
    runnable(file, &meta)
}

/// `file` (with its `fstat` metadata) if it may run as root (`refuse_file`).
fn runnable(file: File, meta: &std::fs::Metadata) -> Result<File, String> {
    match refuse_file(meta.file_type().is_file(), meta.uid(), meta.mode()) {
        Some(why) => Err(why),
        None => Ok(file),
    }
}

/// Symbolic links one program path may pass through, as the kernel's own
/// path walk allows (MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// Opens the program at the absolute `path` for running as root (a service
/// check's program), by the hooks' rules: the file must pass `refuse_file`,
/// and every directory on the way, from `/` down, must pass `refuse_dir`
/// (root's, writable by nobody else), each opened from the one before it
/// (`openat(2)` with O_PATH|O_NOFOLLOW) and checked through its descriptor
/// (`fstat`). The descriptor returned is the file checked, for
/// `sys::process::command_for_file`: what was checked is what runs.
///
/// A symbolic link on the way is followed only because the directory that
/// holds it passed, so only root can have put it there; its target is
/// walked by the same rules (from `/` for an absolute target), so a link
/// never leads out of checked directories. Packaged programs often are a
/// link (`/bin/sh`, `/usr/bin/pg_isready`), and on a merged-/usr system so
/// is `/bin`. One exception, for directories such as `/tmp`: a directory
/// writable by others but sticky (mode 1777) is passed through to an entry
/// that root owns, since nobody else can rename or remove that entry.
///
/// The error is the reason, naming the directory at fault, or the file's
/// own reason as `refuse_file` words it.
pub(crate) fn open_program(path: &Path) -> Result<File, String> {
    use std::collections::VecDeque;
    use std::path::Component;
    let parts = |p: &Path| -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    };
    if !path.is_absolute() {
        return Err("not an absolute path".into());
    }
    let root = Path::new("/");
    let top = sys::fs::open_dir(root).map_err(|e| format!("directory /: {e}"))?;
    let meta = top.metadata().map_err(|e| format!("directory /: {e}"))?;
    // The directories walked so far, `/` first: ".." goes back one.
    let mut way: Vec<(File, PathBuf, std::fs::Metadata)> = vec![(top, root.to_path_buf(), meta)];
    let mut todo: VecDeque<OsString> = parts(path).into();
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name == ".." {
            if way.len() > 1 {
                way.pop();
            }
            continue;
        }
        let Some((dir, dir_path, dir_meta)) = way.last() else { break };
        let here = dir_path.join(&name);
        let say =
            |e: std::io::Error| if here == path { e.to_string() } else { format!("{}: {e}", here.display()) };
        let file = sys::fs::open_path_at(dir, &name).map_err(say)?;
        let meta = file.metadata().map_err(say)?;
        if let Some(why) = refuse_dir_on_way(dir_meta.uid(), dir_meta.mode(), meta.uid()) {
            return Err(format!("directory {} {why}", dir_path.display()));
        }
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(format!("more than {MAX_LINKS} symbolic links on the way"));
            }
            let target = PathBuf::from(sys::fs::read_link(&file).map_err(say)?);
            if target.is_absolute() {
                way.truncate(1);
            }
            for part in parts(&target).into_iter().rev() {
                todo.push_front(part);
            }
            continue;
        }
        if todo.is_empty() {
            return runnable(file, &meta);
        }
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", here.display()));
        }
        way.push((file, here, meta));
    }
    // The path ends in a directory (`/`, or `..` last).
    Err("not a regular file".into())
}

/// Why a directory on the way to a hook must not be trusted, if so: only
/// root may change what a hook is (a hook runs as root).
pub(crate) fn refuse_dir(uid: u32, mode: u32) -> Option<String> {
    if uid != 0 {
        return Some(format!("is owned by uid {uid}, not root"));
    }
    if mode & 0o022 != 0 {
        return Some(format!("has mode {:04o}: group- or world-writable", mode & 0o7777));
    }
    None
}

/// Why a directory on the way to a program must not be passed through to
/// an entry owned by `entry_uid`, if so: `refuse_dir`, except that a
/// sticky directory of root's (mode 1777, like `/tmp`) leads to an entry
/// of root's, which nobody else can rename or remove there.
pub(crate) fn refuse_dir_on_way(uid: u32, mode: u32, entry_uid: u32) -> Option<String> {
    if uid == 0 && mode & 0o1000 != 0 && entry_uid == 0 {
        return None;
    }
    refuse_dir(uid, mode)
}

/// Why a hook must not run, if it must not: only regular, executable files
/// owned by root and writable by nobody else run (a hook runs as root).
pub(crate) fn refuse_file(regular: bool, uid: u32, mode: u32) -> Option<String> {
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

pub(crate) use crate::runner::Exit;

/// The record of one hook run, for the log and the mail.
#[derive(Clone, Debug)]
pub(crate) struct Ran {
    pub path: PathBuf,
    /// Counted per stage in the metrics.
    pub stage: Stage,
    pub exit: Exit,
    pub took: Duration,
}

/// What the hook is told, docs/design.md §6.
pub(crate) struct Context<'a> {
    pub stage: Stage,
    pub addr: &'a ServiceAddr,
    pub peer: Option<std::net::IpAddr>,
    pub reason: &'a str,
}

/// The environment of a hook: exactly these variables, nothing inherited.
pub(crate) fn environment(ctx: &Context) -> Vec<(&'static str, String)> {
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

/// Runs one hook to completion or timeout (`runner::run`). Its stdout and
/// stderr go to the log line by line (bounded); at the timeout its process
/// group gets TERM, then KILL. The file executed is the one `discover`
/// checked; its `argv[0]` and `IPFAILOVER_HOOK` are its path (a script's
/// `$0` is the descriptor it is read through, `/proc/self/fd/N`).
pub(crate) fn run(hook: &Hook, ctx: &Context, timeout: Duration) -> Ran {
    let start = Instant::now();
    let path = hook.path.as_path();
    let name = path.display().to_string();
    let mut cmd = match hook.file.try_clone() {
        Ok(file) => sys::process::command_for_file(file),
        Err(e) => {
            log::error!("hook {name}: cannot start: {e}");
            return Ran {
                path: path.into(),
                stage: ctx.stage,
                exit: Exit::CannotRun(e.to_string()),
                took: start.elapsed(),
            };
        }
    };
    std::os::unix::process::CommandExt::arg0(&mut cmd, path);
    cmd.arg(ctx.stage.arg())
        .arg(ctx.addr.interface.as_str())
        .arg(format!("{}/{}", ctx.addr.addr, ctx.addr.prefix))
        .env_clear()
        .envs(environment(ctx))
        .env("IPFAILOVER_HOOK", path)
        .current_dir("/");
    let short = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let limits = runner::Limits { timeout, kill_grace: KILL_GRACE, max_lines: MAX_LINES };
    let outcome = runner::run(cmd, None, limits, &mut ToLog(&short));
    if let Exit::CannotRun(e) = &outcome.exit {
        log::error!("hook {name}: cannot start: {e}");
    }
    if outcome.dropped > 0 {
        log::warn!("hook {name}: {} more output lines not logged", outcome.dropped);
    }
    let exit = outcome.exit;
    let level = if exit.success() { log::Level::Info } else { log::Level::Warning };
    log::log!(
        level,
        "hook {name} ({}): {exit} after {}",
        ctx.stage.arg(),
        crate::timefmt::secs(outcome.took)
    );
    Ran { path: path.into(), stage: ctx.stage, exit, took: outcome.took }
}

/// Copies a hook's output lines to the log, named by the hook's file name.
struct ToLog<'a>(&'a str);

impl runner::Watch for ToLog<'_> {
    fn line(&mut self, line: &str) {
        log::info!("hook {}: {line}", self.0);
    }
}

#[cfg(test)]
#[path = "hooks_tests.rs"]
mod tests;
