//! At most one mail of a kind per `mail_min_interval`. Every mail the
//! monitor sends passes here with its kind (`monitor::tell::mail_kind`).
//! A kind is a family (the anomaly on one network, the secondary lost and
//! back, a probe answered) and a variant (raised or cleared, lost or
//! back): within one interval each variant of a family is mailed once, in
//! the order the events came, so an anomaly raised and cleared gives two
//! mails at once. Anything later in the interval (flapping) is held back,
//! and when the interval is over the latest of it goes, saying how many
//! events it stands for: the last word the administrator reads is the
//! current one.
//!
//! Moves of the addresses are limited by their outcome (`offer_move`, issue
//! 28): a move whose outcome is new, or whose last mail is older than the
//! interval, is mailed at once; the same outcome again within the interval
//! (a failed takeover retried, with the same addresses failing) is held
//! back. One slot holds the latest held move mail: when the interval of its
//! outcome is over it goes, saying how many it stands for; a mail of
//! another outcome that goes first carries that count instead, and the held
//! one, older, is dropped (the log has it). So move mails never arrive out
//! of order, and the last one read is the latest outcome.
//!
//! Pure: the caller passes the time in (`now` for the interval, `wall` for
//! the words), so the tests run on a virtual clock.

use super::Mail;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// Which mails limit each other: a `family`, and the `variant` of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::daemon) struct MailKind {
    pub family: &'static str,
    pub variant: &'static str,
}

/// What one family has sent and held back in its current interval.
#[derive(Debug)]
struct Family {
    /// When the current interval began (its first mail).
    start: Instant,
    /// The variants mailed in this interval.
    sent: Vec<&'static str>,
    /// The latest mail held back, and its variant.
    held: Option<(&'static str, Mail)>,
    /// How many were held back, and since when.
    count: u64,
    since: Option<SystemTime>,
    /// The mail_min_interval they were held back under: a reload to 0s
    /// sends them at once, and the note must not say "one per 0ms".
    every: Duration,
}

impl Family {
    fn new(now: Instant, variant: &'static str, every: Duration) -> Family {
        Family { start: now, sent: vec![variant], held: None, count: 0, since: None, every }
    }
}

/// The latest move mail held back.
#[derive(Debug)]
struct HeldMove {
    /// Its outcome (`offer_move`'s key).
    key: String,
    /// When a mail of that outcome was last mailed.
    last: Instant,
    mail: Mail,
    /// Move mails held back since the last one mailed, this one included.
    count: u64,
    since: SystemTime,
    every: Duration,
}

#[derive(Debug)]
pub(in crate::daemon) struct MailLimit {
    every: Duration,
    families: BTreeMap<&'static str, Family>,
    /// When each move outcome was last mailed.
    moves_sent: BTreeMap<String, Instant>,
    move_held: Option<HeldMove>,
}

impl MailLimit {
    /// `every` zero: nothing is held back.
    pub(in crate::daemon) fn new(every: Duration) -> MailLimit {
        MailLimit { every, families: BTreeMap::new(), moves_sent: BTreeMap::new(), move_held: None }
    }

    /// A reload's new interval, for what comes next.
    pub(in crate::daemon) fn set_every(&mut self, every: Duration) {
        self.every = every;
    }

    /// The mail to send now, if any: `mail` itself, with a note when
    /// others of its family were held back; `None` when it is held back.
    pub(in crate::daemon) fn offer(
        &mut self,
        kind: Option<MailKind>,
        mail: Mail,
        now: Instant,
        wall: SystemTime,
    ) -> Option<Mail> {
        let Some(kind) = kind.filter(|_| !self.every.is_zero()) else {
            return Some(mail);
        };
        let every = self.every;
        let Some(f) = self.families.get_mut(kind.family) else {
            self.families.insert(kind.family, Family::new(now, kind.variant, every));
            return Some(mail);
        };
        if now >= f.start + every {
            // A new interval; what was held and not yet flushed is older
            // than this mail and was not mailed.
            let note = f.since.map(|since| {
                format!(
                    "({} similar event(s) since {} were not mailed: at most one mail of this kind per {} \
                     (mail_min_interval); see the log.)",
                    f.count,
                    crate::timefmt::utc_iso8601(since),
                    crate::timefmt::secs(f.every),
                )
            });
            *f = Family::new(now, kind.variant, every);
            return Some(noted(mail, note));
        }
        if f.held.is_none() && !f.sent.contains(&kind.variant) {
            f.sent.push(kind.variant);
            return Some(mail);
        }
        f.count += 1;
        f.since.get_or_insert(wall);
        f.every = every;
        f.held = Some((kind.variant, mail));
        None
    }

    /// The mail of a move, the first of its outcome `key` (direction,
    /// reason, outcome, the addresses it left in the wrong place) within
    /// the interval, or `None` when it is held back. A mail that goes
    /// carries the count of the move mails held back before it.
    pub(in crate::daemon) fn offer_move(
        &mut self,
        key: String,
        mail: Mail,
        now: Instant,
        wall: SystemTime,
    ) -> Option<Mail> {
        let every = self.every;
        let last = self.moves_sent.get(&key).copied();
        if last.is_none_or(|t| now >= t + every) {
            let note = self.move_held.take().map(|h| {
                format!(
                    "({} earlier move mail(s) since {} were held back, the latest \"{}\": at most one mail \
                     per move outcome per {} (mail_min_interval); see the log.)",
                    h.count,
                    crate::timefmt::utc_iso8601(h.since),
                    h.mail.subject,
                    crate::timefmt::secs(h.every),
                )
            });
            // Outcomes not mailed for an interval need no memory.
            self.moves_sent.retain(|_, t| now < *t + every);
            self.moves_sent.insert(key, now);
            return Some(noted(mail, note));
        }
        let last = last.unwrap_or(now);
        let (count, since) = self.move_held.as_ref().map_or((0, wall), |h| (h.count, h.since));
        self.move_held = Some(HeldMove { key, last, mail, count: count + 1, since, every });
        None
    }

    /// The held mails whose interval is over, each saying how many events
    /// it stands for; each starts a new interval of its family.
    pub(in crate::daemon) fn due(&mut self, now: Instant) -> Vec<Mail> {
        let every = self.every;
        let mut out = Vec::new();
        if self.move_due().is_some_and(|t| now >= t) {
            if let Some(h) = self.move_held.take() {
                let note = format!(
                    "({} move mail(s) since {} were held back: at most one mail per move outcome per {} \
                     (mail_min_interval). This is the latest of them; see the log for the others.)",
                    h.count,
                    crate::timefmt::utc_iso8601(h.since),
                    crate::timefmt::secs(h.every),
                );
                self.moves_sent.insert(h.key, now);
                out.push(noted(h.mail, Some(note)));
            }
        }
        for f in self.families.values_mut() {
            if f.held.is_none() || now < f.start + every {
                continue;
            }
            let (Some((variant, mail)), Some(since)) = (f.held.take(), f.since) else { continue };
            let note = format!(
                "({} similar event(s) since {} were held back: at most one mail of this kind per {} \
                 (mail_min_interval). This is the latest of them; see the log for the others.)",
                f.count,
                crate::timefmt::utc_iso8601(since),
                crate::timefmt::secs(f.every),
            );
            *f = Family::new(now, variant, every);
            out.push(noted(mail, Some(note)));
        }
        out
    }

    /// When `due` has something to send, if ever.
    pub(in crate::daemon) fn next_due(&self) -> Option<Instant> {
        let families = self.families.values().filter(|f| f.held.is_some()).map(|f| f.start + self.every);
        families.chain(self.move_due()).min()
    }

    /// When the held move mail may go.
    fn move_due(&self) -> Option<Instant> {
        self.move_held.as_ref().map(|h| h.last + self.every)
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

    fn kind(family: &'static str, variant: &'static str) -> Option<MailKind> {
        Some(MailKind { family, variant })
    }

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
            sent.extend(l.offer(kind("probe-answered", "answered"), m, now, wall).map(|m| (3 * i, m)));
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
    fn a_pair_is_mailed_at_once_and_the_last_word_of_flapping_arrives() {
        // PeerLost / PeerBack are one family: lost and back once each go at
        // once; after that, flapping is held back and its latest word goes
        // at the end of the interval.
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(10 * MIN);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(l.offer(kind("peer", "lost"), mail("lost"), t0, w).is_some());
        assert!(
            l.offer(kind("peer", "back"), mail("back"), at(10), w).is_some(),
            "the other half goes at once"
        );
        for (k, (v, s)) in
            [("lost", "lost"), ("back", "back"), ("lost", "lost again")].into_iter().enumerate()
        {
            assert!(l.offer(kind("peer", v), mail(s), at(20 + k as u64), w).is_none());
        }
        assert!(l.due(t0 + 10 * MIN - Duration::from_millis(1)).is_empty());
        assert_eq!(l.next_due(), Some(t0 + 10 * MIN));
        let out = l.due(t0 + 10 * MIN);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "lost again", "the current word");
        assert!(out[0].body.starts_with("(3 similar event(s) since 1970-01-01T00:00:00"), "{}", out[0].body);
        assert_eq!(l.next_due(), None);
        // A new interval began with "lost": "back" may still go at once.
        assert!(l.offer(kind("peer", "back"), mail("back"), t0 + 11 * MIN, w).is_some());
        assert!(l.offer(kind("peer", "lost"), mail("lost"), t0 + 12 * MIN, w).is_none());
    }

    #[test]
    fn nothing_overtakes_a_held_mail() {
        // Raised, raised again (held), cleared: the clear is held behind
        // the held raise, so the mails never arrive out of order.
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(MIN);
        assert!(l.offer(kind("a", "raised"), mail("r1"), t0, w).is_some());
        assert!(l.offer(kind("a", "raised"), mail("r2"), t0, w).is_none());
        assert!(l.offer(kind("a", "cleared"), mail("c1"), t0, w).is_none());
        let out = l.due(t0 + MIN);
        assert_eq!((out.len(), out[0].subject.as_str()), (1, "c1"));
    }

    #[test]
    fn a_new_event_after_the_interval_carries_the_count_if_not_flushed() {
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(MIN);
        assert!(l.offer(kind("a", "x"), mail("1"), t0, w).is_some());
        assert!(l.offer(kind("a", "x"), mail("2"), t0 + Duration::from_secs(5), w).is_none());
        let m = l.offer(kind("a", "x"), mail("3"), t0 + 2 * MIN, w).unwrap();
        assert!(
            m.body.starts_with("(1 similar event(s) since") && m.body.contains("not mailed"),
            "{}",
            m.body
        );
        assert_eq!(l.next_due(), None, "nothing left to flush");
    }

    #[test]
    fn mails_without_a_kind_are_never_held_back() {
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(10 * MIN);
        for i in 0..5 {
            let m = l.offer(None, mail("key mismatch"), t0 + Duration::from_secs(i), w).unwrap();
            assert!(!m.body.contains("similar"));
        }
        assert!(l.offer(kind("anomaly-public", "raised"), mail("a"), t0, w).is_some());
        assert!(
            l.offer(kind("anomaly-private", "raised"), mail("b"), t0, w).is_some(),
            "families are separate"
        );
        // mail_min_interval = 0s: no limit.
        let mut l = MailLimit::new(Duration::ZERO);
        assert!((0..5).all(|_| l.offer(kind("a", "x"), mail("x"), t0, w).is_some()));
    }

    /// An operator who sets mail_min_interval = 0s while mails are held
    /// (INSTALL section 9) gets them at once, with the interval they were
    /// held under, not "at most one mail of this kind per 0ms".
    #[test]
    fn a_reload_to_zero_sends_what_was_held_with_the_old_interval() {
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(10 * MIN);
        assert!(l.offer(kind("a", "x"), mail("1"), t0, w).is_some());
        assert!(l.offer(kind("a", "x"), mail("2"), t0 + Duration::from_secs(5), w).is_none());
        l.set_every(Duration::ZERO);
        let later = t0 + Duration::from_secs(6);
        assert_eq!(l.next_due(), Some(t0), "due at once");
        let out = l.due(later);
        assert_eq!(out.len(), 1);
        assert!(out[0].body.contains("per 600.0s (mail_min_interval)"), "{}", out[0].body);
        assert!(l.offer(kind("a", "x"), mail("3"), later, w).is_some());
    }

    /// Issue 28, item 4: a takeover that cannot succeed was retried every
    /// dead_after, each retry mailed (about 1200 mails an hour). The same
    /// outcome is now mailed once per interval, with a count; on a virtual
    /// clock, a failure every 3 s for 20 minutes.
    #[test]
    fn the_same_move_outcome_is_mailed_once_per_interval_with_a_count() {
        let t0 = Instant::now();
        let w0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_597_445);
        let mut l = MailLimit::new(10 * MIN);
        let mut sent = Vec::new();
        for i in 0..=400u64 {
            let (now, wall) = (t0 + Duration::from_secs(3 * i), w0 + Duration::from_secs(3 * i));
            sent.extend(l.due(now).into_iter().map(|m| (3 * i, m)));
            let m = Mail { subject: "takeover FAILED".into(), body: format!("try {i}\n") };
            let key = "Acquire both-networks-silent Failed [fd00:18::10]".to_string();
            sent.extend(l.offer_move(key, m, now, wall).map(|m| (3 * i, m)));
        }
        let times: Vec<u64> = sent.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, vec![0, 600, 1200], "{sent:#?}");
        assert!(!sent[0].1.body.contains("held back"), "the first one is plain");
        let second = &sent[1].1.body;
        assert!(second.starts_with("(199 move mail(s) since 2026-11-25T"), "{second}");
        assert!(second.contains("This is the latest") && second.ends_with("try 199\n"), "{second}");
        assert_eq!(l.next_due(), Some(t0 + Duration::from_secs(1800)));
    }

    /// Another outcome is news: mailed at once, carrying the count of what
    /// was held back, which is then never mailed after it (the last word
    /// read is the latest outcome).
    #[test]
    fn a_new_move_outcome_goes_at_once_and_carries_the_count() {
        let t0 = Instant::now();
        let w = SystemTime::UNIX_EPOCH;
        let mut l = MailLimit::new(10 * MIN);
        let at = |s: u64| t0 + Duration::from_secs(s);
        let failed = || "Acquire both-networks-silent Failed [198.18.0.10]".to_string();
        assert!(l.offer_move(failed(), mail("failed 1"), at(0), w).is_some());
        assert!(l.offer_move(failed(), mail("failed 2"), at(3), w).is_none());
        assert!(l.offer_move(failed(), mail("failed 3"), at(9), w).is_none());
        assert_eq!(l.next_due(), Some(at(600)));
        // Another address fails now: another outcome.
        let other = "Acquire both-networks-silent Failed [198.18.0.11]".to_string();
        let m = l.offer_move(other, mail("failed other"), at(20), w).expect("a new outcome goes at once");
        assert!(m.body.starts_with("(2 earlier move mail(s) since 1970"), "{}", m.body);
        assert!(m.body.contains("the latest \"failed 3\""), "{}", m.body);
        assert_eq!(l.next_due(), None, "what was held is not mailed after a newer outcome");
        assert!(l.due(at(700)).is_empty());
        // Flapping between two outcomes: each once, then held; the latest
        // goes when its interval is over.
        let done = || "Acquire both-networks-silent Done []".to_string();
        assert!(l.offer_move(done(), mail("done"), at(30), w).is_some());
        assert!(l.offer_move(failed(), mail("failed 4"), at(40), w).is_none(), "within its interval");
        assert!(l.offer_move(done(), mail("done 2"), at(50), w).is_none());
        assert_eq!(l.next_due(), Some(at(630)), "the interval of the latest held one's outcome");
        let out = l.due(at(630));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "done 2");
        assert!(out[0].body.starts_with("(2 move mail(s) since"), "{}", out[0].body);
        // And after the interval the failure is mailed again at once.
        assert!(l.offer_move(failed(), mail("failed 5"), at(700), w).is_some());
    }
}
