//! The notifier thread: pipes each mail to `sendmail -t -oi`, one at a
//! time, each bounded by `mail_timeout` (its process group is killed after
//! that). The monitor only ever does a non-blocking send into a bounded
//! channel; while sendmail runs, the notifier keeps draining that channel
//! into its own bounded queue, dropping the oldest mail when it overflows
//! and saying so in the next one.

use crate::log;
use crate::mail::{self, Envelope, Mail};
use crate::sys::signal::{self, Signal};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CHANNEL: usize = 16;
const QUEUE: usize = 32;

pub struct Notifier {
    pub sendmail: PathBuf,
    pub timeout: Duration,
    pub envelope: Envelope,
}

impl Notifier {
    pub fn spawn(self) -> std::io::Result<SyncSender<Mail>> {
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
            self.deliver(&mail, unique, &rx, &mut queue, &mut dropped);
        }
    }

    fn deliver(
        &self,
        mail: &Mail,
        unique: u64,
        rx: &Receiver<Mail>,
        queue: &mut VecDeque<Mail>,
        dropped: &mut usize,
    ) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let offset = crate::sys::host::utc_offset(now);
        let text =
            mail::render(&self.envelope, mail, now, offset, unique ^ u64::from(std::process::id()) << 32);
        let what = format!("mail \"{}\" to {}", mail.subject, self.envelope.to.join(", "));
        let mut cmd = Command::new(&self.sendmail);
        cmd.args(["-t", "-oi"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        signal::clean_signals_for_child(&mut cmd);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                log::error(&format!("{what}: cannot run {}: {e}", self.sendmail.display()));
                return;
            }
        };
        // Written from its own thread: a sendmail that reads nothing must
        // not block us; killing it breaks the pipe and ends the writer.
        if let Some(mut stdin) = child.stdin.take() {
            let _ = std::thread::Builder::new().name("mail-writer".into()).spawn(move || {
                let _ = stdin.write_all(text.as_bytes());
            });
        }
        let deadline = Instant::now() + self.timeout;
        let pgid = child.id() as i32;
        loop {
            // Keep the monitor's channel moving while we wait.
            while let Ok(m) = rx.try_recv() {
                if queue.len() == QUEUE {
                    queue.pop_front();
                    *dropped += 1;
                }
                queue.push_back(m);
            }
            match child.try_wait() {
                Ok(Some(status)) if status.success() => {
                    log::info(&format!("{what}: handed to {}", self.sendmail.display()));
                    return;
                }
                Ok(Some(status)) => {
                    log::error(&format!("{what}: {} failed: {status}", self.sendmail.display()));
                    return;
                }
                Ok(None) if Instant::now() >= deadline => {
                    let _ = signal::kill_process_group(pgid, Signal::Term);
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = signal::kill_process_group(pgid, Signal::Other(9));
                    let _ = child.wait();
                    log::error(&format!(
                        "{what}: {} did not finish within {:?}; killed",
                        self.sendmail.display(),
                        self.timeout
                    ));
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    log::error(&format!("{what}: waiting for sendmail: {e}"));
                    return;
                }
            }
        }
    }
}
