//! The first client packet after a move, as the monitor tells it
//! (ipfailoverd(8), CLIENT CONFIRMATION): the move's mail waits for the
//! watch's answer (`mover/confirm.rs`) for at most `MAIL_WAITS`, so that
//! a busy service's takeover mail says at once that clients reach the
//! new holder; when that time is up the mail goes without it, and a
//! short follow-up mail says what the watch found at its end. The
//! takeover itself never waits for any of this.

use super::Monitor;
use crate::daemon::mail::bodies;
use crate::daemon::mail::rate::MailKind;
use crate::daemon::mail::Mail;
use crate::daemon::mover::confirm::{Confirmation, Found};
use crate::engine::MoveId;
use crate::log;
use std::time::{Duration, Instant, SystemTime};

/// How long a move's mail waits for the first client packet at most.
pub(super) const MAIL_WAITS: Duration = Duration::from_secs(1);

/// Move mails and the first client packet. Only this file changes it.
#[derive(Default)]
pub(super) struct Waiting {
    /// A move's mail waiting for the first client packet.
    held: Option<Held>,
    /// A move whose mail went before its watch ended: the end is mailed.
    owed: Option<MoveId>,
}

/// A move's mail waiting for its watch's answer.
struct Held {
    id: MoveId,
    key: String,
    mail: Mail,
    due: Instant,
}

/// The mail's confirmation paragraph.
fn paragraph(words: &str) -> String {
    format!("\nClients: {words}.\n")
}

impl Monitor {
    /// When the held move mail must go without the answer.
    pub(super) fn held_mail_due(&self) -> Option<Instant> {
        self.waiting.held.as_ref().map(|h| h.due)
    }

    /// A move report: a watch started for it (or could not).
    pub(super) fn watch_started(&mut self, r: &crate::daemon::mover::Report) {
        let found = match &r.watch {
            None => return,
            Some(Ok(())) => Found::Watching { since: Instant::now() },
            Some(Err(e)) => Found::Failed(e.clone()),
        };
        self.view.counters.confirm.note(Confirmation { id: r.id, found, repeats: 0, at: SystemTime::now() });
    }

    /// Move `id`'s mail: with the watch's answer if it is known, held for
    /// it (at most `MAIL_WAITS`) while the watch runs, else as it is.
    pub(super) fn move_mail_with_clients(&mut self, id: MoveId, key: String, mut mail: Mail) {
        match self.view.counters.confirm.last.as_ref().filter(|c| c.id == id) {
            Some(Confirmation { found: Found::Watching { .. }, .. }) => {
                if let Some(old) = self.waiting.held.take() {
                    self.release_held(old, "the watch was still running when the next move was mailed");
                }
                self.waiting.held = Some(Held { id, key, mail, due: Instant::now() + MAIL_WAITS });
            }
            Some(c) => {
                mail.body.push_str(&paragraph(&c.words()));
                self.send_move_mail(key, mail);
            }
            None => self.send_move_mail(key, mail),
        }
    }

    /// Sends a held mail without the answer, saying why.
    fn release_held(&mut self, mut held: Held, why: &str) {
        held.mail.body.push_str(&paragraph(&format!(
            "no packet from another host to these addresses yet ({why}); the watch goes on for up to {} after \
             the first add, and what it finds is logged, shown by 'ipfailoverd status' and mailed",
            crate::timefmt::secs(crate::daemon::mover::confirm::WINDOW)
        )));
        self.waiting.owed = Some(held.id);
        self.send_move_mail(held.key, held.mail);
    }

    /// Once per pass of the loop: a held mail whose time is up goes.
    pub(super) fn held_mail_timeout(&mut self, now: Instant) {
        if self.waiting.held.as_ref().is_some_and(|h| now >= h.due) {
            if let Some(h) = self.waiting.held.take() {
                let why = format!("{} after the move", crate::timefmt::secs(MAIL_WAITS));
                self.release_held(h, &why);
            }
        }
    }

    /// At exit: a held mail goes as it is.
    pub(super) fn held_mail_at_exit(&mut self) {
        if let Some(h) = self.waiting.held.take() {
            self.release_held(h, "the daemon is stopping");
        }
    }

    /// The watch's answer: logged, counted, shown, and mailed with the
    /// held move mail or, if that went without it, in a follow-up.
    pub(super) fn confirmed(&mut self, c: Confirmation) {
        let words = c.words();
        match c.found {
            Found::Client { .. } => log::notice!("move {}: {words}", c.id),
            Found::Failed(_) => log::warn!("move {}: {words}", c.id),
            _ => log::info!("move {}: {words}", c.id),
        }
        self.view.publisher.urgent();
        let (id, found) = (c.id, c.found.clone());
        self.view.counters.confirm.note(c);
        if let Some(mut held) = self.waiting.held.take_if(|h| h.id == id) {
            held.mail.body.push_str(&paragraph(&words));
            return self.send_move_mail(held.key, held.mail);
        }
        if self.waiting.owed != Some(id) {
            return;
        }
        self.waiting.owed = None;
        let list: Vec<String> = self.cfg.addresses.iter().map(|a| a.addr.to_string()).collect();
        let (variant, subject) = match found {
            Found::Client { delay, .. } => (
                "seen",
                format!(
                    "clients reach {} here: first packet {} after the add",
                    list.join(", "),
                    crate::daemon::mover::confirm::millis(delay)
                ),
            ),
            Found::Nobody { watched } => (
                "nobody",
                format!(
                    "no client packet for {} within {} after the move",
                    list.join(", "),
                    crate::timefmt::secs(watched)
                ),
            ),
            // A later move or a broken socket: that move's own mail and
            // the log say what matters.
            _ => return,
        };
        let mail = bodies::text_mail(subject, format!("After move {id}: {words}."));
        self.send_mail(Some(MailKind { family: "client-confirm", variant }), mail);
    }
}
