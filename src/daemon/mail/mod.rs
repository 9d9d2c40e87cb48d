//! Mail to the administrator, in one place: what is said (`bodies.rs`,
//! docs/design.md §7), how often (`rate.rs`, the monitor's `mail_min_interval`
//! limit), the RFC 5322 message (`message.rs`), and here the notifier
//! thread that hands it to sendmail.
//!
//! The notifier thread: pipes each mail to `sendmail -t -oi`, one at a
//! time, each bounded by `mail_timeout` (its process group is killed after
//! that). The monitor only ever does a non-blocking send into a bounded
//! channel; while sendmail runs, the notifier keeps draining that channel
//! into its own bounded queue, dropping the oldest mail when it overflows
//! and saying so in the next one. After each mail it tells the monitor
//! what became of it (for the metrics and `status`). A mail that sendmail
//! refuses for now (exit 75, EX_TEMPFAIL: the MTA's queue or disk, a
//! lookup) is tried again after `RETRY_AFTER`, while later mails go on;
//! any other failure, or the last retry's, is logged with what sendmail
//! said and given up.

pub(super) mod bodies;
pub(super) mod message;
pub(super) mod rate;

pub(super) use message::{Envelope, Mail};

use super::post::Post;
use super::view::counters::Mailed;
use crate::config::Config;
use crate::log;
use crate::runner::{self, Exit, Limits};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The waits before each new try of a mail sendmail refused for now:
/// three tries in all, the last about 70 s after the first.
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(10), Duration::from_secs(60)];
/// sysexits(3) EX_TEMPFAIL: "temporary failure, try again later".
const EX_TEMPFAIL: i32 = 75;
/// sendmail's last lines of output kept for the log and `status`.
const SAID_LINES: usize = 5;
const CHANNEL: usize = 16;
const QUEUE: usize = 32;
/// After TERM at the timeout, how long sendmail gets before KILL.
const KILL_GRACE: Duration = Duration::from_millis(200);

/// Hands `mail` to the notifier without waiting: the monitor never waits
/// for it. `false`: dropped (the queue is full or the notifier gone), and
/// said in the log.
pub(super) fn hand_over(notifier: &SyncSender<Mail>, mail: Mail) -> bool {
    match notifier.try_send(mail) {
        Ok(()) => true,
        Err(TrySendError::Full(m)) => {
            log::warn!("mail queue full: not sending \"{}\"", m.subject);
            false
        }
        Err(TrySendError::Disconnected(m)) => {
            log::error!("the notifier is gone: not sending \"{}\"", m.subject);
            false
        }
    }
}

pub(super) struct Notifier {
    pub sendmail: PathBuf,
    pub timeout: Duration,
    pub envelope: Envelope,
    /// The monitor, told what became of each mail. The notifier may wait
    /// for room there; the monitor never waits for the notifier.
    pub events: Option<Post<Mailed>>,
}

/// Starts the notifier of `cfg` (recipient, sendmail, timeout), which a
/// reload replaces; the old one finishes its queue and exits when its
/// channel closes.
pub(super) fn notifier(cfg: &Config, events: Option<Post<Mailed>>) -> Result<SyncSender<Mail>, String> {
    let envelope = Envelope {
        tag: cfg.ident(),
        hostname: crate::sys::host::hostname().unwrap_or_else(|_| "localhost".into()),
        to: cfg.notify.clone(),
    };
    Notifier { sendmail: cfg.sendmail.clone(), timeout: cfg.mail_timeout, envelope, events }
        .spawn()
        .map_err(|e| format!("cannot start the notifier: {e}"))
}

impl Notifier {
    pub(super) fn spawn(self) -> std::io::Result<SyncSender<Mail>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(CHANNEL);
        std::thread::Builder::new().name("notifier".into()).spawn(move || self.run(rx))?;
        Ok(tx)
    }

    fn run(self, rx: Receiver<Mail>) {
        let mut queue: VecDeque<Mail> = VecDeque::new();
        // Mails refused for now: when each is due again, and its tries so far.
        let mut later: Vec<(Instant, Mail, usize)> = Vec::new();
        let mut dropped = 0usize;
        let mut unique = 0u64;
        loop {
            let due = later.iter().map(|l| l.0).min();
            if queue.is_empty() {
                let got = match due {
                    Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                match got {
                    Ok(m) => queue.push_back(m),
                    Err(RecvTimeoutError::Timeout) => {}
                    // The daemon is going: what waits for a retry goes
                    // with it (it was logged when it was refused).
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            let (mut mail, tries) = match later.iter().position(|l| l.0 <= Instant::now()) {
                Some(i) => {
                    let (_, mail, tries) = later.swap_remove(i);
                    (mail, tries)
                }
                None => match queue.pop_front() {
                    Some(m) => (m, 0),
                    None => continue,
                },
            };
            if dropped > 0 && tries == 0 {
                mail.body = format!(
                    "({dropped} earlier notification(s) were dropped because mail could not keep up; see the log.)\n\n{}",
                    mail.body
                );
                dropped = 0;
            }
            unique += 1;
            let before = dropped;
            match self.deliver(&mail, unique, &rx, &mut queue, &mut dropped) {
                Ok(()) => self.tell(Mailed::HandedOver),
                Err(f) if f.temporary && tries < RETRY_AFTER.len() => {
                    let wait = RETRY_AFTER[tries];
                    log::warn!(
                        "mail \"{}\": refused for now ({}); trying again in {}",
                        mail.subject,
                        f.why,
                        crate::timefmt::secs(wait)
                    );
                    self.tell(Mailed::Retrying(f.why));
                    later.push((Instant::now() + wait, mail, tries + 1));
                }
                Err(f) => self.tell(Mailed::Failed(f.why)),
            }
            if dropped > before {
                self.tell(Mailed::Dropped((dropped - before) as u64));
            }
        }
    }

    fn tell(&self, what: Mailed) {
        if let Some(events) = &self.events {
            let _ = events.send(what);
        }
    }

    fn deliver(
        &self,
        mail: &Mail,
        unique: u64,
        rx: &Receiver<Mail>,
        queue: &mut VecDeque<Mail>,
        dropped: &mut usize,
    ) -> Result<(), Failure> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let offset = crate::sys::host::utc_offset(now);
        let text =
            message::render(&self.envelope, mail, now, offset, unique ^ u64::from(std::process::id()) << 32);
        let what = format!("mail \"{}\" to {}", mail.subject, self.envelope.to.join(", "));
        let mut cmd = Command::new(&self.sendmail);
        cmd.args(["-t", "-oi"]).env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").current_dir("/");
        // What sendmail says (stdout and stderr) is kept for a failure:
        // its exit status alone rarely tells the operator why.
        let limits = Limits { timeout: self.timeout, kill_grace: KILL_GRACE, max_lines: 64 };
        let mut watch = KeepMoving { rx, queue, dropped, said: VecDeque::new() };
        let outcome = runner::run(cmd, Some(text.into_bytes()), limits, &mut watch);
        let said: Vec<String> = watch.said.into_iter().collect();
        let sendmail = self.sendmail.display();
        let why = match &outcome.exit {
            Exit::Code(0) => {
                log::info!("{what}: handed to {sendmail}");
                return Ok(());
            }
            Exit::TimedOut => format!("{sendmail} did not finish within {:?}; killed", self.timeout),
            Exit::CannotRun(e) => format!("cannot run {sendmail}: {e}"),
            exit => format!("{sendmail} failed: {exit}"),
        };
        let why = if said.is_empty() { why } else { format!("{why}; it said: {}", said.join(" / ")) };
        let temporary = outcome.exit == Exit::Code(EX_TEMPFAIL);
        if !temporary {
            log::error!("{what}: {why}");
        }
        Err(Failure { why, temporary })
    }
}

/// Why sendmail did not take a mail.
struct Failure {
    why: String,
    /// EX_TEMPFAIL: worth another try.
    temporary: bool,
}

/// Keeps the monitor's channel moving while sendmail runs: mail that
/// arrives meanwhile goes to the notifier's own bounded queue, the oldest
/// dropped (and counted) when it is full.
struct KeepMoving<'a> {
    rx: &'a Receiver<Mail>,
    queue: &'a mut VecDeque<Mail>,
    dropped: &'a mut usize,
    /// sendmail's last lines of output.
    said: VecDeque<String>,
}

impl runner::Watch for KeepMoving<'_> {
    fn line(&mut self, line: &str) {
        if self.said.len() == SAID_LINES {
            self.said.pop_front();
        }
        self.said.push_back(line.to_string());
    }

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
