//! Becoming a daemon, the pidfile, who is on the other end of a socket,
//! and a child that executes exactly the file that was checked.

use super::cvt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Detaches from the terminal: `fork(2)`, `setsid(2)`, `fork(2)` again (so
/// the daemon can never reacquire a terminal), `chdir("/")`, and stdin,
/// stdout and stderr onto /dev/null with `dup2(2)`. The middle process
/// leaves with `_exit(0)`; the first waits, on a pipe, until the daemon
/// calls `Detached::ready` (so that whoever started it finds the daemon's
/// own pid in the pidfile when it returns), then leaves with `_exit(0)`,
/// or `_exit(1)` if the daemon ended first. Must be called before any
/// thread is started.
pub(crate) fn daemonize() -> io::Result<Detached> {
    let (mut wait, told) = pipe()?;
    let mut told = Some(told);
    for round in 0..2 {
        // SAFETY: called while the process is single-threaded (documented
        // contract); the child continues with a copy of this thread only.
        let pid = cvt(unsafe { libc::fork() })?;
        if pid > 0 {
            let code = if round == 0 {
                // Only the daemon keeps the writing end: end of file here
                // means it is gone.
                drop(told.take());
                let mut byte = [0u8; 1];
                i32::from(!matches!(wait.read(&mut byte), Ok(1)))
            } else {
                0
            };
            // SAFETY: _exit ends the parent at once without running Rust
            // destructors or atexit handlers that belong to the child now.
            unsafe { libc::_exit(code) };
        }
        if round == 0 {
            // SAFETY: setsid has no arguments; it fails only if we already
            // lead a group, which a fresh child does not.
            cvt(unsafe { libc::setsid() })?;
        }
    }
    drop(wait);
    std::env::set_current_dir("/")?;
    let null = File::options().read(true).write(true).open("/dev/null")?;
    for fd in 0..3 {
        // SAFETY: both are valid descriptors; dup2 replaces fd atomically.
        cvt(unsafe { libc::dup2(null.as_raw_fd(), fd) })?;
    }
    Ok(Detached { told })
}

/// The daemon's end of `daemonize`'s pipe.
pub(crate) struct Detached {
    told: Option<File>,
}

impl Detached {
    /// Lets the process that started the daemon exit 0.
    pub(crate) fn ready(mut self) {
        if let Some(mut w) = self.told.take() {
            let _ = w.write_all(b"1");
        }
    }
}

/// A locked pidfile, removed when dropped.
#[derive(Debug)]
pub(crate) struct Pidfile {
    path: PathBuf,
    _file: File,
}

impl Pidfile {
    /// Opens (creating, mode 0644, never through a symbolic link: see
    /// `fs::open_or_create`) and locks `path` with `flock(2)`
    /// LOCK_EX|LOCK_NB, then writes our pid. A file that is not a regular
    /// file of root's or ours, or that others may write, is refused before
    /// anything is written to it. A file locked by a live daemon is an
    /// error naming its pid; a stale file is taken over.
    pub(crate) fn create(path: &Path) -> io::Result<Pidfile> {
        let mut file = super::fs::open_or_create(path, 0o644).map_err(|e| {
            if super::fs::is_link_refused(&e) {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "is a symbolic link; refusing to write through it",
                )
            } else {
                e
            }
        })?;
        if let Some(why) = not_ours(&file.metadata()?) {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
        }
        // SAFETY: flock takes a valid descriptor and flags.
        if let Err(e) = cvt(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("already running (pid {}, pidfile {})", s.trim(), path.display()),
                ));
            }
            return Err(e);
        }
        file.set_len(0)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes())?;
        file.sync_all()?;
        Ok(Pidfile { path: path.to_path_buf(), _file: file })
    }

    /// Rewrites our pid (after `daemonize` changed it).
    pub(crate) fn refresh(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self._file.set_len(0)?;
        self._file.seek(io::SeekFrom::Start(0))?;
        self._file.write_all(format!("{}\n", std::process::id()).as_bytes())
    }
}

impl Drop for Pidfile {
    /// Removes the pidfile only if the path still names the file we locked.
    fn drop(&mut self) {
        if let (Ok(ours), Ok(there)) = (self._file.metadata(), std::fs::symlink_metadata(&self.path)) {
            if (ours.dev(), ours.ino()) == (there.dev(), there.ino()) {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Why a file the daemon is about to write (found in place, not created by
/// it) is not one it may take over, if so: not a regular file, owned by
/// someone other than root or us, or writable by others.
fn not_ours(meta: &std::fs::Metadata) -> Option<String> {
    if !meta.file_type().is_file() {
        return Some("not a regular file".into());
    }
    let uid = meta.uid();
    if uid != 0 && uid != super::fs::euid() {
        return Some(format!(
            "owned by uid {uid}, not by root or by us; remove it after checking who made it"
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!("mode {mode:04o} lets others write it"));
    }
    None
}

/// The uid of the process at the other end of a unix stream socket:
/// `getsockopt(2)` SO_PEERCRED.
pub(crate) fn peer_uid(stream: &std::os::unix::net::UnixStream) -> io::Result<u32> {
    // SAFETY: ucred is plain data; all-zero is valid.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid and writable; len holds cred's size.
    cvt(unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    Ok(cred.uid)
}

/// A `Command` that executes exactly the open file `file`, not whatever
/// its path names by the time the child starts: `execve(2)` of
/// `/proc/self/fd/N`, a link the kernel resolves to the open file itself.
/// In the child, between fork and exec, `fcntl(2)` F_SETFD clears
/// FD_CLOEXEC on N, so N stays open across the exec: an interpreter named
/// by `#!` is handed `/proc/self/fd/N` as the script's name (its `$0`) and
/// opens the same file through it. The parent's descriptor stays
/// close-on-exec, so no other child inherits it. `file` may be an O_PATH
/// descriptor (`fs::open_path_at`); the Command owns it.
pub(crate) fn command_for_file(file: File) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let fd = file.as_raw_fd();
    let mut cmd = std::process::Command::new(format!("/proc/self/fd/{fd}"));
    // SAFETY: the closure only calls fcntl, which is async-signal-safe, and
    // allocates nothing, as pre_exec requires. It owns `file`, so `fd`
    // stays open, and names the same file, for as long as `cmd` exists.
    unsafe {
        cmd.pre_exec(move || {
            let _owned = &file;
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Starts `cmd` as the leader of a new process group (`setpgid(2)` in the
/// child, through std's `process_group(0)`) with an empty signal mask
/// (`signal::clean_signals_for_child`), so that the whole group can be
/// stopped with one `killpg(3)` and the child does not inherit the
/// daemon's blocked signals.
pub(crate) fn spawn_in_group(cmd: &mut std::process::Command) -> io::Result<std::process::Child> {
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    super::signal::clean_signals_for_child(cmd);
    cmd.spawn()
}

/// A pipe, (read end, write end), both close-on-exec: `pipe2(2)` with
/// O_CLOEXEC. A child gets the write end as its stdout and stderr (std
/// dup2s it there, which clears the flag on the copies only), so both
/// streams arrive in the order they were written.
pub(crate) fn pipe() -> io::Result<(File, File)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both are open descriptors that nothing
    // else owns; each File takes one.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// A small heap for a small daemon (`mallopt(3)`), set first thing in
/// `main`, before the heap grows and before any thread starts. One malloc arena for the whole process (M_ARENA_MAX = 1): glibc
/// otherwise gives each thread that allocates an arena of its own, and the
/// daemon's mostly idle threads would each keep heap pages resident for a
/// few small buffers; nothing here allocates fast enough for the shared
/// arena's lock to matter. And no padding when the heap grows (M_TOP_PAD
/// = 0, default 128 KiB): allocations freed on one thread and made on
/// another walk through all of the padding in time, so it all became
/// resident (the heap of an idle node at 10 ms: 136 KiB, 64-76 without).
/// Returns false where the C library has no such knobs.
pub(crate) fn small_heap() -> bool {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: mallopt takes two integers and changes allocator settings
        // only; it is called before any other thread exists.
        let set =
            unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) == 1 && libc::mallopt(libc::M_TOP_PAD, 0) == 1 };
        // The runtime's start-up allocated before `main`, with the default
        // padding: give that back.
        // SAFETY: malloc_trim only returns free heap memory to the kernel.
        unsafe { libc::malloc_trim(0) };
        set
    }
    #[cfg(not(target_env = "gnu"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ipfo-pid-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn pidfile_is_never_written_through_a_link_or_into_a_strangers_file() {
        if !crate::root_or_skip("pidfile_is_never_written_through_a_link_or_into_a_strangers_file") {
            return;
        }
        let d = scratch("links");
        let victim = d.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let pid = d.join("ipfailoverd.pid");
        std::os::unix::fs::symlink(&victim, &pid).unwrap();
        let e = Pidfile::create(&pid).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        std::fs::remove_file(&pid).unwrap();

        std::fs::write(&pid, "1\n").unwrap();
        std::os::unix::fs::lchown(&pid, Some(65534), None).unwrap();
        let e = Pidfile::create(&pid).unwrap_err();
        assert!(e.to_string().contains("owned by uid 65534"), "{e}");
        assert_eq!(std::fs::read_to_string(&pid).unwrap(), "1\n");
        std::os::unix::fs::lchown(&pid, Some(0), None).unwrap();

        // A stale pidfile of ours is taken over, and removed at the end.
        let file = Pidfile::create(&pid).unwrap();
        assert_eq!(std::fs::read_to_string(&pid).unwrap(), format!("{}\n", std::process::id()));
        drop(file);
        assert!(!pid.exists());

        // Replaced under us: the other file is left alone.
        let file = Pidfile::create(&pid).unwrap();
        std::fs::rename(&victim, &pid).unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&pid).unwrap(), "precious\n");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
