//! At most one mail of a kind per `mail_min_interval`. Every mail the
//! monitor sends passes here with its kind (`monitor::tell::mail_kind`):
//! the first of a kind goes at once; later ones within the interval are
//! held back, and when the interval is over the latest of them goes, saying
//! how many it stands for, so the last word the administrator reads is the
//! current one (an anomaly cleared, a secondary heard again). Moves of the
//! addresses have no kind: each one is news and is never held back.
//!
//! Pure: the caller passes the time in (`now` for the interval, `wall` for
//! the words), so the tests run on a virtual clock.

use crate::mail::Mail;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// What one kind has sent and held back.
#[derive(Debug)]
struct Kind {
    last_sent: Instant,
    /// The latest mail held back, if any.
    held: Option<Mail>,
    /// How many were held back, and since when.
    count: u64,
    since: Option<SystemTime>,
}

#[derive(Debug)]
pub struct MailLimit {
    every: Duration,
    kinds: BTreeMap<&'static str, Kind>,
}

impl MailLimit {
    /// `every` zero: nothing is held back.
    pub fn new(every: Duration) -> MailLimit {
        MailLimit { every, kinds: BTreeMap::new() }
    }

    /// A reload's new interval, for what comes next.
    pub fn set_every(&mut self, every: Duration) {
        self.every = every;
    }

    /// The mail to send now, if any: `mail` itself, with a note when
    /// others of its kind were held back; `None` when it is held back.
    pub fn offer(
        &mut self,
        kind: Option<&'static str>,
        mail: Mail,
        now: Instant,
        wall: SystemTime,
    ) -> Option<Mail> {
        let Some(kind) = kind.filter(|_| !self.every.is_zero()) else {
            return Some(mail);
        };
        let every = self.every;
        match self.kinds.get_mut(kind) {
            Some(k) if now < k.last_sent + every => {
                k.count += 1;
                k.since.get_or_insert(wall);
                k.held = Some(mail);
                None
            }
            Some(k) => {
                // The interval is over and nothing was flushed yet: this
                // mail is the newer word; the held ones were not mailed.
                let note = k.since.map(|since| {
                    format!(
                        "({} similar event(s) since {} were not mailed: at most one mail of this kind per {} \
                         (mail_min_interval); see the log.)",
                        k.count,
                        crate::timefmt::utc_iso8601(since),
                        crate::engine::secs(every),
                    )
                });
                *k = Kind { last_sent: now, held: None, count: 0, since: None };
                Some(noted(mail, note))
            }
            None => {
                self.kinds.insert(kind, Kind { last_sent: now, held: None, count: 0, since: None });
                Some(mail)
            }
        }
    }

    /// The held mails whose interval is over, each saying how many events
    /// it stands for; each starts a new interval of its kind.
    pub fn due(&mut self, now: Instant) -> Vec<Mail> {
        let every = self.every;
        let mut out = Vec::new();
        for k in self.kinds.values_mut() {
            if k.held.is_none() || now < k.last_sent + every {
                continue;
            }
            let (Some(mail), Some(since)) = (k.held.take(), k.since) else { continue };
            let note = format!(
                "({} similar event(s) since {} were held back: at most one mail of this kind per {} \
                 (mail_min_interval). This is the latest of them; see the log for the others.)",
                k.count,
                crate::timefmt::utc_iso8601(since),
                crate::engine::secs(every),
            );
            *k = Kind { last_sent: now, held: None, count: 0, since: None };
            out.push(noted(mail, Some(note)));
        }
        out
    }

    /// When `due` has something to send, if ever.
    pub fn next_due(&self) -> Option<Instant> {
        self.kinds.values().filter(|k| k.held.is_some()).map(|k| k.last_sent + self.every).min()
    }
}

fn noted(mut mail: Mail, note: Option<String>) -> Mail {
    if let Some(note) = note {
        mail.body = format!("{note}\n\n{}", mail.body);
    }
    mail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(subject: &str) -> Mail {
        Mail { subject: subject.into(), body: format!("body of {subject}\n") }
    }

    const MIN: Duration = Duration::from_secs(60);

    /// Issue 16, item 5: "service address in use by another host" came every
    /// 3 s. On a virtual clock: one mail, then one per 10 minutes saying how
    /// many it stands for.
    #[test]
    fn a_repeated_notice_is_mailed_once_per_interval_with_a_count() {
        let t0 = Instant::now();
        let w0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_597_445);
        let mut l = MailLimit::new(10 * MIN);
        let mut sent = Vec::new();
        for i in 0..=400u64 {
            // Every 3 s for 20 minutes.
            let (now, wall) = (t0 + Duration::from_secs(3 * i), w0 + Duration::from_secs(3 * i));
            sent.extend(l.due(now).into_iter().map(|m| (3 * i, m)));
            let m = Mail {
                subject: "service address in use by another host".into(),
                body: format!("event {i}\n"),
            };
            sent.extend(l.offer(Some("probe-answered"), m, now, wall).map(|m| (3 * i, m)));
        }
        let times: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![0, 600, 1200], "{sent:#?}");
        assert!(!sent[0].1.body.contains("similar"), "the first one is plain");
        let second = &sent[1].1.body;
        assert!(second.starts_with("(199 similar event(s) since 2026-11-25T"), "{second}");
        assert!(second.contains("per 600.0s (mail_min_interval)"), "{second}");
        // The flush sends the newest word, event 199 (at 597 s).
        assert!(second.contains("This is the latest") && second.ends_with("event 199\n"), "{second}");
        assert_eq!(l.next_due(), Some(t0 + Duration::from_secs(1800)));
    }

    #[test]
    fn the_last_word_of_a_flapping_pair_arrives() {
        // PeerLost / PeerBack share a kind: after the flapping stops, the
        // held "heard again" goes out at the end of the interval.
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(10 * MIN);
        assert!(l.offer(Some("peer"), mail("lost"), t0, w).is_some());
        for (k, s) in ["back", "lost", "back"].iter().enumerate() {
            let at = t0 + Duration::from_secs(10 * (k as u64 + 1));
            assert!(l.offer(Some("peer"), mail(s), at, w).is_none());
        }
        assert!(l.due(t0 + 10 * MIN - Duration::from_millis(1)).is_empty());
        assert_eq!(l.next_due(), Some(t0 + 10 * MIN));
        let out = l.due(t0 + 10 * MIN);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "back");
        assert!(out[0].body.starts_with("(3 similar event(s) since 1970-01-01T00:00:00"), "{}", out[0].body);
        assert_eq!(l.next_due(), None);
    }

    #[test]
    fn a_new_event_after_the_interval_carries_the_count_if_not_flushed() {
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(MIN);
        assert!(l.offer(Some("a"), mail("1"), t0, w).is_some());
        assert!(l.offer(Some("a"), mail("2"), t0 + Duration::from_secs(5), w).is_none());
        let m = l.offer(Some("a"), mail("3"), t0 + 2 * MIN, w).unwrap();
        assert!(
            m.body.starts_with("(1 similar event(s) since") && m.body.contains("not mailed"),
            "{}",
            m.body
        );
        assert_eq!(l.next_due(), None, "nothing left to flush");
    }

    #[test]
    fn moves_and_other_kinds_are_never_held_back() {
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(10 * MIN);
        for i in 0..5 {
            let m = l.offer(None, mail("took over"), t0 + Duration::from_secs(i), w).unwrap();
            assert!(!m.body.contains("similar"));
        }
        assert!(l.offer(Some("anomaly-public"), mail("a"), t0, w).is_some());
        assert!(l.offer(Some("anomaly-private"), mail("b"), t0, w).is_some(), "kinds are separate");
        // mail_min_interval = 0s: no limit.
        let mut l = MailLimit::new(Duration::ZERO);
        assert!((0..5).all(|_| l.offer(Some("a"), mail("x"), t0, w).is_some()));
    }
}
