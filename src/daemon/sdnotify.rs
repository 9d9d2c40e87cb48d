//! systemd readiness notification (sd_notify), written in-tree: one
//! datagram to the unix socket named by NOTIFY_SOCKET. Without that
//! variable (not under systemd, or Type=simple) every call does nothing.
//!
//! What the daemon tells systemd, and when (ipfailoverd(8), SYSTEMD):
//! READY=1 once start-up is over, that is once the engine has left
//! `starting` and every state on the way to its first decision
//! (`claiming`, `acquiring`, `releasing`): the primary holds and has
//! announced its addresses (`active`), the secondary watches a primary it
//! hears on both networks (`watching`) or holds the addresses after
//! finding the primary silent (`holding`); or the node found it cannot
//! serve now (`public-down`, `isolated`, `unfit`, `failed`, ...), which
//! STATUS= says; or, at the latest, once the start has waited
//! `WAIT_LIMIT` (60 s) for someone else (`starting`, `claiming`: a primary
//! whose addresses another host holds), with STATUS= saying what it
//! still waits for. Until then the monitor asks systemd for more time
//! (EXTEND_TIMEOUT_USEC=) on each pass of its loop, so a start that makes
//! progress (a secondary counting the primary's silence, hooks that run)
//! is not killed by TimeoutStartSec, and a start whose monitor hangs is.
//! WATCHDOG=1 comes from the monitor loop only (`Supervision::pass`), so
//! a monitor stuck in a loop or a deadlock stops the pings and systemd
//! restarts the daemon (WatchdogSec= in the units).

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// Sends `state` (e.g. "READY=1", "STATUS=holding") if systemd asked for it.
pub(super) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let Ok(sock) = UnixDatagram::unbound() else { return };
    let bytes = path.as_encoded_bytes();
    let result = if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket name.
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
    } else {
        sock.send_to(state.as_bytes(), std::path::Path::new(&path))
    };
    if let Err(e) = result {
        crate::log::warn!("sd_notify {state:?}: {e}");
    }
}

/// Whether systemd supervises us with Type=notify.
pub(super) fn under_systemd() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// How often systemd wants WATCHDOG=1: WATCHDOG_USEC, when WATCHDOG_PID is
/// unset or names this process (sd_watchdog_enabled(3)).
fn watchdog_usec() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// How much more time each pass of the monitor loop asks for while the
/// start is not over: passes come at least every interval (at most 60 s)
/// and once a ping period, so a loop that runs never lets it run out.
const EXTEND: Duration = Duration::from_secs(90);
/// Asked for at most this often.
const EXTEND_EVERY: Duration = Duration::from_secs(1);
/// How long a start may wait for someone else before it is over anyway:
/// a primary claiming addresses that another host holds (no secondary of
/// its pair answers the claim) would otherwise keep `systemctl start`, and
/// every unit ordered after it, waiting for ever.
pub(super) const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Where the start is, for `Supervision::pass`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// The node serves its role, or knows it cannot now (STATUS= says).
    Settled,
    /// Doing the work of the start: hooks, ioctls, announcements.
    Working,
    /// Waiting for the peer or for whoever holds the addresses: settled
    /// once the start has lasted `WAIT_LIMIT`.
    Waiting,
}

/// The monitor's side of systemd's supervision: READY=1 once, the
/// watchdog pings, more time while starting. Driven by `pass`, which only
/// the monitor loop calls, once per pass.
pub(super) struct Supervision {
    ready: bool,
    started: Instant,
    /// A third of WATCHDOG_USEC: two pings may be late on a loaded machine
    /// before systemd gives up.
    ping_every: Option<Duration>,
    next_ping: Instant,
    next_extend: Instant,
}

impl Supervision {
    pub(super) fn from_env(now: Instant) -> Supervision {
        Supervision::new(watchdog_usec(), now)
    }

    fn new(watchdog: Option<Duration>, now: Instant) -> Supervision {
        Supervision {
            ready: false,
            started: now,
            ping_every: watchdog.map(|w| w / 3),
            next_ping: now,
            next_extend: now,
        }
    }

    /// Whether READY=1 was sent.
    pub(super) fn ready(&self) -> bool {
        self.ready
    }

    /// When the loop must pass again for the next ping.
    pub(super) fn due(&self) -> Option<Instant> {
        self.ping_every.map(|_| self.next_ping)
    }

    /// One pass of the monitor loop, at `now`, with where the start is
    /// (see the module comment). Sends what is due.
    pub(super) fn pass(&mut self, now: Instant, progress: Progress) {
        if let Some(msg) = self.message(now, progress) {
            notify(&msg);
        }
    }

    /// What `pass` sends, if anything.
    fn message(&mut self, now: Instant, progress: Progress) -> Option<String> {
        let settled = match progress {
            Progress::Settled => true,
            Progress::Working => false,
            Progress::Waiting => now.saturating_duration_since(self.started) >= WAIT_LIMIT,
        };
        let mut lines = Vec::new();
        if !self.ready && settled {
            self.ready = true;
            lines.push("READY=1".to_string());
        } else if !self.ready && now >= self.next_extend {
            self.next_extend = now + EXTEND_EVERY;
            lines.push(format!("EXTEND_TIMEOUT_USEC={}", EXTEND.as_micros()));
        }
        if let Some(every) = self.ping_every {
            if now >= self.next_ping {
                self.next_ping = now + every;
                lines.push("WATCHDOG=1".to_string());
            }
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::Progress::{Settled, Waiting, Working};
    use super::{Supervision, WAIT_LIMIT};
    use std::time::{Duration, Instant};

    #[test]
    fn ready_once_when_settled_and_more_time_until_then() {
        let t0 = Instant::now();
        let mut sv = Supervision::new(None, t0);
        assert_eq!(sv.message(t0, Working).as_deref(), Some("EXTEND_TIMEOUT_USEC=90000000"));
        // At most once a second.
        assert_eq!(sv.message(t0 + Duration::from_millis(500), Working), None);
        assert!(sv.message(t0 + Duration::from_secs(1), Working).is_some());
        assert!(!sv.ready());
        assert_eq!(sv.message(t0 + Duration::from_millis(1200), Settled).as_deref(), Some("READY=1"));
        assert!(sv.ready());
        // Never again, whatever the state does later.
        assert_eq!(sv.message(t0 + Duration::from_secs(5), Settled), None);
        assert_eq!(sv.message(t0 + Duration::from_secs(6), Working), None);
        assert_eq!(sv.due(), None);
    }

    #[test]
    fn a_start_that_waits_for_others_is_over_after_the_limit() {
        let t0 = Instant::now();
        let mut sv = Supervision::new(None, t0);
        assert_eq!(sv.message(t0, Waiting).as_deref(), Some("EXTEND_TIMEOUT_USEC=90000000"));
        let almost = t0 + WAIT_LIMIT - Duration::from_millis(1);
        assert_eq!(sv.message(almost, Waiting).as_deref(), Some("EXTEND_TIMEOUT_USEC=90000000"));
        assert!(!sv.ready());
        // Work in progress (hooks) is never cut short.
        let late = almost + Duration::from_secs(1);
        assert!(sv.message(late, Working).is_some_and(|m| m.starts_with("EXTEND")));
        assert!(!sv.ready());
        assert_eq!(sv.message(late, Waiting).as_deref(), Some("READY=1"));
        assert!(sv.ready());
    }

    #[test]
    fn pings_come_only_from_passes_a_third_of_the_watchdog_apart() {
        let t0 = Instant::now();
        let mut sv = Supervision::new(Some(Duration::from_secs(3)), t0);
        assert_eq!(sv.message(t0, Settled).as_deref(), Some("READY=1\nWATCHDOG=1"));
        assert_eq!(sv.due(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(sv.message(t0 + Duration::from_millis(999), Settled), None);
        assert_eq!(sv.message(t0 + Duration::from_secs(1), Settled).as_deref(), Some("WATCHDOG=1"));
        // A loop that does not pass sends nothing: no ping without a pass,
        // however late (there is no timer of its own).
        assert_eq!(sv.message(t0 + Duration::from_secs(60), Settled).as_deref(), Some("WATCHDOG=1"));
        assert_eq!(sv.due(), Some(t0 + Duration::from_secs(61)));
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("ipfo-sdn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        std::env::set_var("NOTIFY_SOCKET", &path);
        super::notify("READY=1");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
