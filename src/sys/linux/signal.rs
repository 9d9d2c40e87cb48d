//! Signals without handlers: blocked in every thread, received by one
//! thread with sigwait(3).

use super::cvt;
use std::io;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Term,
    Int,
    Hup,
    Usr1,
    Other(i32),
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Term => libc::SIGTERM,
            Signal::Int => libc::SIGINT,
            Signal::Hup => libc::SIGHUP,
            Signal::Usr1 => libc::SIGUSR1,
            Signal::Other(n) => n,
        }
    }

    fn from_number(n: libc::c_int) -> Signal {
        match n {
            libc::SIGTERM => Signal::Term,
            libc::SIGINT => Signal::Int,
            libc::SIGHUP => Signal::Hup,
            libc::SIGUSR1 => Signal::Usr1,
            n => Signal::Other(n),
        }
    }
}

const DAEMON_SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1];

fn daemon_set() -> io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it fully.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid, writable sigset_t.
    cvt(unsafe { libc::sigemptyset(&mut set) })?;
    for sig in DAEMON_SIGNALS {
        // SAFETY: set is initialised; sig is a valid signal number.
        cvt(unsafe { libc::sigaddset(&mut set, sig) })?;
    }
    Ok(set)
}

/// Blocks TERM, INT, HUP and USR1 in the calling thread with
/// `pthread_sigmask(3)`; threads spawned afterwards inherit the mask.
pub(crate) fn block_daemon_signals() -> io::Result<()> {
    let set = daemon_set()?;
    // SAFETY: set is initialised; the old mask is not wanted (null).
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(())
}

/// Waits for one of the blocked daemon signals with `sigwait(3)`.
pub(crate) fn wait_signal() -> io::Result<Signal> {
    let set = daemon_set()?;
    let mut sig: libc::c_int = 0;
    // SAFETY: set is initialised and sig is writable.
    let r = unsafe { libc::sigwait(&set, &mut sig) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    Ok(Signal::from_number(sig))
}

/// Sends `sig` to every process of a group with `killpg(3)`. A group that
/// no longer exists (ESRCH) is fine: there is nothing left to stop.
pub(crate) fn kill_process_group(pgid: i32, sig: Signal) -> io::Result<()> {
    if pgid <= 1 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "refusing to signal process group <= 1"));
    }
    // SAFETY: killpg takes plain integers.
    match cvt(unsafe { libc::killpg(pgid, sig.number()) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// Makes `cmd`'s child start with an empty signal mask. std's `Command`
/// resets signal dispositions but not the mask, and ours blocks TERM, INT,
/// HUP and USR1 in every thread, so hooks and sendmail would inherit it.
/// The reset runs between fork and exec (`sigprocmask(2)`, which is
/// async-signal-safe).
pub(crate) fn clean_signals_for_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls sigemptyset and sigprocmask, both
    // async-signal-safe, and allocates nothing, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
