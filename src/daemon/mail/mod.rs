//! Mail to the administrator, in one place: what is said (`bodies.rs`,
//! SPEC 7), how often (`rate.rs`, the monitor's `mail_min_interval`
//! limit), the RFC 5322 message (`message.rs`), and here the notifier
//! thread that hands it to sendmail.
//!
//! The notifier thread: pipes each mail to `sendmail -t -oi`, one at a
//! time, each bounded by `mail_timeout` (its process group is killed after
//! that). The monitor only ever does a non-blocking send into a bounded
//! channel; while sendmail runs, the notifier keeps draining that channel
//! into its own bounded queue, dropping the oldest mail when it overflows
//! and saying so in the next one. After each mail it tells the monitor
//! what became of it (for the metrics).

pub(super) mod bodies;
pub(super) mod message;
pub(super) mod rate;

pub(super) use message::{Envelope, Mail};

use super::view::counters::Mailed;
use super::Event;
use crate::log;
use crate::runner::{self, Exit, Limits};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CHANNEL: usize = 16;
const QUEUE: usize = 32;
/// After TERM at the timeout, how long sendmail gets before KILL.
const KILL_GRACE: Duration = Duration::from_millis(200);

pub(super) struct Notifier {
    pub sendmail: PathBuf,
    pub timeout: Duration,
    pub envelope: Envelope,
    /// The monitor, told what became of each mail. The notifier may wait
    /// for room there; the monitor never waits for the notifier.
    pub events: Option<SyncSender<Event>>,
}

impl Notifier {
    pub(super) fn spawn(self) -> std::io::Result<SyncSender<Mail>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL);
        std::thread::Builder::new().name("notifier".into()).spawn(move || self.run(rx))?;
        Ok(tx)
    }

    fn run(self, rx: Receiver<Mail>) {
        let mut queue: VecDeque<Mail> = VecDeque::new();
        let mut dropped = 0usize;
        let mut unique = 0u64;
        loop {
            if queue.is_empty() {
                match rx.recv() {
                    Ok(m) => queue.push_back(m),
                    Err(_) => return,
                }
            }
            let Some(mut mail) = queue.pop_front() else { continue };
            if dropped > 0 {
                mail.body = format!(
                    "({dropped} earlier notification(s) were dropped because mail could not keep up; see the log.)\n\n{}",
                    mail.body
                );
                dropped = 0;
            }
            unique += 1;
            let before = dropped;
            let handed = self.deliver(&mail, unique, &rx, &mut queue, &mut dropped);
            self.tell(if handed { Mailed::HandedOver } else { Mailed::Failed });
            if dropped > before {
                self.tell(Mailed::Dropped((dropped - before) as u64));
            }
        }
    }

    fn tell(&self, what: Mailed) {
        if let Some(events) = &self.events {
            let _ = events.send(Event::Mailed(what));
        }
    }

    fn deliver(
        &self,
        mail: &Mail,
        unique: u64,
        rx: &Receiver<Mail>,
        queue: &mut VecDeque<Mail>,
        dropped: &mut usize,
    ) -> bool {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let offset = crate::sys::host::utc_offset(now);
        let text =
            message::render(&self.envelope, mail, now, offset, unique ^ u64::from(std::process::id()) << 32);
        let what = format!("mail \"{}\" to {}", mail.subject, self.envelope.to.join(", "));
        let mut cmd = Command::new(&self.sendmail);
        cmd.args(["-t", "-oi"]).env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").current_dir("/");
        // sendmail's output is not read: what matters is its exit status.
        let limits = Limits { timeout: self.timeout, kill_grace: KILL_GRACE, max_lines: 0 };
        let outcome =
            runner::run(cmd, Some(text.into_bytes()), limits, &mut KeepMoving { rx, queue, dropped });
        let sendmail = self.sendmail.display();
        match outcome.exit {
            Exit::Code(0) => {
                log::info!("{what}: handed to {sendmail}");
                return true;
            }
            Exit::TimedOut => {
                log::error!("{what}: {sendmail} did not finish within {:?}; killed", self.timeout)
            }
            Exit::CannotRun(e) => log::error!("{what}: cannot run {sendmail}: {e}"),
            exit => log::error!("{what}: {sendmail} failed: {exit}"),
        }
        false
    }
}

/// Keeps the monitor's channel moving while sendmail runs: mail that
/// arrives meanwhile goes to the notifier's own bounded queue, the oldest
/// dropped (and counted) when it is full.
struct KeepMoving<'a> {
    rx: &'a Receiver<Mail>,
    queue: &'a mut VecDeque<Mail>,
    dropped: &'a mut usize,
}

impl runner::Watch for KeepMoving<'_> {
    fn waiting(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            if self.queue.len() == QUEUE {
                self.queue.pop_front();
                *self.dropped += 1;
            }
            self.queue.push_back(m);
        }
    }
}
