//! Log and mail lines that could come as often as datagrams do (a flood
//! of forgeries, a metrics client failing every second): the first at
//! once, then at most one per period saying how many were held back. Used
//! by the monitor and the metrics thread.

use crate::proto::Reject;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Logs authentication failures: the first one, then at most one line per
/// `every`, saying how many were dropped in between.
#[derive(Debug)]
pub(super) struct AuthLog {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl AuthLog {
    pub(super) fn new(every: Duration) -> AuthLog {
        AuthLog { every, last: None, suppressed: 0 }
    }

    /// Returns the line to log, if one is due.
    pub(super) fn note(
        &mut self,
        now: Instant,
        net: &str,
        src: SocketAddr,
        reason: Reject,
        n: u64,
    ) -> Option<String> {
        if self.last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.suppressed += n;
            return None;
        }
        let more = match self.suppressed {
            0 => String::new(),
            k => format!(" ({k} more dropped since the last report)"),
        };
        self.last = Some(now);
        self.suppressed = n.saturating_sub(1);
        Some(format!("dropped datagram on the {net} network from {src}: {}{more}", reason.as_str()))
    }
}

/// At most one report per `every`: the first at once, later ones saying
/// how many events were held back since the previous report.
#[derive(Debug)]
pub(super) struct Every {
    every: Duration,
    last: Option<Instant>,
    held: u64,
}

impl Every {
    pub(super) fn new(every: Duration) -> Every {
        Every { every, last: None, held: 0 }
    }

    /// `n` events now: `Some(held back since the last report)` when a
    /// report is due, `None` when these are held back too.
    pub(super) fn due(&mut self, now: Instant, n: u64) -> Option<u64> {
        if self.last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.held += n;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::replace(&mut self.held, n.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reports_first_then_once_per_period_with_a_count() {
        let t0 = Instant::now();
        let mut e = Every::new(Duration::from_secs(3600));
        assert_eq!(e.due(t0, 1), Some(0));
        assert_eq!(e.due(t0 + Duration::from_secs(1), 5), None);
        assert_eq!(e.due(t0 + Duration::from_secs(3599), 1), None);
        assert_eq!(e.due(t0 + Duration::from_secs(3600), 1), Some(6));
        assert_eq!(e.due(t0 + Duration::from_secs(7200), 3), Some(0));
        assert_eq!(e.due(t0 + Duration::from_secs(10800), 1), Some(2));
    }

    #[test]
    fn first_then_once_per_minute() {
        let t0 = Instant::now();
        let src: SocketAddr = "198.18.0.99:1694".parse().unwrap();
        let mut l = AuthLog::new(Duration::from_secs(60));
        assert!(l.note(t0, "public", src, Reject::BadMac, 1).is_some());
        for s in 1..60 {
            assert!(l.note(t0 + Duration::from_secs(s), "public", src, Reject::BadMac, 10).is_none());
        }
        let line = l.note(t0 + Duration::from_secs(60), "public", src, Reject::BadMac, 1).unwrap();
        assert!(line.contains("590 more dropped"), "{line}");
        assert!(line.contains("bad-mac") && line.contains("198.18.0.99"), "{line}");
    }
}
