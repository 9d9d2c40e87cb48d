//! Requests from outside the monitor loop: signals, the control socket,
//! status snapshots and ARP probes.

use super::Event;
use super::Monitor;
use crate::config::{NetId, Role};
use crate::engine::Input;
use crate::log;
use crate::proto::Kind;
use crate::sys::signal::Signal;
use std::sync::mpsc::Sender;
use std::time::Duration;

impl Monitor {
    pub(super) fn signal(&mut self, sig: Signal) {
        match sig {
            Signal::Term | Signal::Int => {
                log::notice!("stopping on signal");
                crate::daemon::sdnotify::notify("STOPPING=1");
                self.feed(Input::Shutdown);
            }
            Signal::Usr1 => {
                for line in crate::daemon::view::status::text(&self.snapshot()).lines() {
                    log::info!("status: {line}");
                }
            }
            Signal::Hup if self.cfg.command_line => self.tickle(),
            Signal::Hup => {
                log::notice!("SIGHUP: reloading the configuration");
                let _ = self.reload_notified();
            }
            _ => {}
        }
    }

    /// A reload framed for systemd: RELOADING=1, then READY=1 with a
    /// STATUS= line that says whether the file was taken, so that
    /// `systemctl status` shows a refused reload. Before the start is over
    /// (no READY=1 yet) only the STATUS= line: READY=1 must still mean
    /// that the node settled (sdnotify.rs).
    fn reload_notified(&mut self) -> Result<String, String> {
        let framed = self.supervision.ready();
        if framed {
            crate::daemon::sdnotify::notify("RELOADING=1");
        }
        let outcome = self.reload();
        let status = match &outcome {
            Ok(_) => format!("STATUS={}", self.engine.state()),
            Err(e) => format!("STATUS=reload failed, old configuration in force: {}", first_line(e)),
        };
        let ready = if framed { "READY=1\n" } else { "" };
        crate::daemon::sdnotify::notify(&format!("{ready}{status}"));
        outcome
    }

    pub(super) fn control(
        &mut self,
        request: crate::daemon::control::Request,
        reply: Sender<Result<String, String>>,
    ) {
        use crate::daemon::control::Request;
        match request {
            Request::Status(format) => {
                use crate::daemon::control::Format;
                let snap = self.snapshot();
                let text = match format {
                    Format::Text => crate::daemon::view::status::text(&snap),
                    Format::Json => crate::daemon::view::status::json(&snap),
                    Format::Prometheus => {
                        let sample = crate::daemon::view::metrics::Sample::of(&snap);
                        crate::daemon::view::metrics::render(&sample, snap.now)
                    }
                };
                let _ = reply.send(Ok(text));
            }
            Request::Reload if self.cfg.command_line => {
                let _ = reply.send(Err("started from a command line: there is no file to reload".into()));
            }
            Request::Reload => {
                log::notice!("control socket: reloading the configuration");
                let _ = reply.send(self.reload_notified());
            }
            Request::Command(c) => {
                self.reply = Some(reply);
                self.feed(Input::Command(c));
                if let Some(r) = self.reply.take() {
                    let _ = r.send(Err("the command was not answered".into()));
                }
            }
        }
    }
    /// Apple's tickle, for heartbeatd and failoverd (nothing to reload):
    /// a datagram to the peer at once, and a gratuitous ARP burst for every
    /// IPv4 address this node has on its public interface, so switches and
    /// clients learn this node's MAC again after a failback.
    fn tickle(&mut self) {
        let kind = if self.cfg.role == Role::Primary { Kind::Heartbeat } else { Kind::Status };
        self.send(kind, 1, self.engine.claim_id(), None);
        let ifname = self.cfg.network(NetId::Public).interface.as_str().to_string();
        let addrs: Vec<std::net::Ipv4Addr> = match crate::sys::net::list_ipv4() {
            Ok(list) => list
                .into_iter()
                .filter(|(label, _, _)| label.split(':').next() == Some(ifname.as_str()))
                .map(|(_, a, _)| a)
                .collect(),
            Err(e) => return log::warn!("SIGHUP: cannot list the addresses of {ifname}: {e}"),
        };
        let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        log::notice!("SIGHUP: announcing {} on {ifname} again", list.join(", "));
        let (count, every) = (self.cfg.garp_count.max(1), self.cfg.garp_interval);
        if let Err(e) = crate::daemon::mover::announce::tickle(ifname, addrs, count, every) {
            log::error!("cannot start the tickle thread: {e}");
        }
    }

    /// Probes every service address off the monitor's path
    /// (`daemon/probe.rs`). The answer comes back as `Event::Probed` with
    /// the probe's id. A probe that cannot be started is answered at once,
    /// as "could not probe" (`free: None`, what the engine does then is in
    /// `Engine::probed_any`), and so is one whose socket failed without
    /// anybody answering: never left unanswered, or the engine would wait
    /// for it for ever.
    pub(super) fn probe(&self, id: crate::engine::ProbeId, wait: Duration) -> Option<Input> {
        let could_not = |why: String| {
            log::error!("cannot probe the service addresses: {why}; the probe counts as not made");
            Some(Input::Probed { id, free: None })
        };
        let Some(tx) = self.events.as_ref() else {
            return could_not("the monitor is not running yet".into());
        };
        // The secondary probes shortly before dead_after of silence runs
        // out (`Engine::probe_early`): most probes end in no takeover.
        log::info!(
            "probing {} address(es) for {}: a takeover needs that nobody answers for them",
            self.cfg.addresses.len(),
            crate::timefmt::secs(wait)
        );
        match crate::daemon::probe::start(id, &self.cfg.addresses, wait, super::post(tx, Event::Probed)) {
            Ok(()) => None,
            Err(e) => could_not(e),
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
