//! Operator commands (`ipfailoverd takeover` / `release`), through the same
//! moves as everything else, refused when they would put the addresses on
//! both nodes or leave nobody to serve them.

use super::{Action, Command, Engine, Reason, State};
use crate::config::{NetId, Role};
use crate::proto::Flags;
use std::time::Instant;

impl Engine {
    pub(super) fn command(&mut self, c: Command, now: Instant) {
        let answer = match (self.s.role, c) {
            (_, _) if self.stopping => Err("the daemon is stopping".to_string()),
            (_, _) if self.moves.moving.is_some() => {
                Err(format!("a move is in progress ({}); try again in a moment", self.state))
            }
            (Role::Primary, Command::Takeover) if !self.fitness.fit && self.peer_can_serve(now) => Err(
                "our service checks fail: the addresses stay with the secondary, whose checks pass (fix the service here first)"
                    .into(),
            ),
            // Unfit, and the secondary neither heard nor known to be gone
            // (just started, or our links just came back): it may be fit
            // and serving, and the claim would be withdrawn as soon as it
            // is heard, after it had given the addresses up.
            (Role::Primary, Command::Takeover)
                if !self.fitness.fit && !self.peer_heard(now) && !self.peer_lost_since(self.clock.start, now) =>
            {
                Err("our service checks fail and the secondary has not been heard yet: ask again in a moment (if it is gone, this node claims the addresses by itself)".into())
            }
            (Role::Primary, Command::Takeover) if self.state == State::Claiming => {
                // Already claiming: an operator's claim also overrides the
                // secondary's `failback = manual`.
                self.manual = true;
                self.pending.push(Action::SendClaim { id: self.claim_id });
                Ok("claiming the addresses from the secondary (as an operator)".into())
            }
            (_, Command::Takeover) if self.holding() => Ok("this node already holds the addresses".into()),
            (Role::Primary, Command::Release) if self.state == State::Claiming => {
                self.manual = true;
                let detail = "asked by an operator while claiming".to_string();
                self.enter(State::Standby, Reason::Manual, detail, now);
                Ok("no longer claiming; the addresses are declared free for the secondary".into())
            }
            (_, Command::Release) if !self.holding() => Ok("this node does not hold the addresses".into()),
            (_, Command::Takeover) if !self.links.link_up[NetId::Public.index()] => {
                Err("our public link is down: taking the addresses would serve nobody".into())
            }
            (Role::Secondary, Command::Takeover) => self.manual_takeover(now),
            (Role::Primary, Command::Takeover) => {
                self.manual = true;
                self.claim(Reason::Manual, "asked by an operator".into(), now);
                Ok("claiming the addresses from the secondary".into())
            }
            (Role::Secondary, Command::Release) => self.manual_release(now),
            (Role::Primary, Command::Release) => {
                self.manual = true;
                self.enter(State::Releasing, Reason::Manual, "asked by an operator".into(), now);
                Ok("releasing; the secondary takes the addresses over".into())
            }
        };
        self.pending.push(Action::Answer(answer));
    }

    /// Which network the primary is heard on, if any.
    fn primary_heard_on(&self, now: Instant) -> Option<NetId> {
        NetId::ALL.into_iter().find(|&n| self.fresh(n, now))
    }

    fn declared_free(&self) -> bool {
        self.peer.peer_flags.is_some_and(|f| f.has(Flags::ADDRESS_FREE))
    }

    fn manual_takeover(&mut self, now: Instant) -> Result<String, String> {
        // A primary that is heard serves, claims or is about to: only one
        // that declared the addresses free lets them go.
        if let Some(net) = self.primary_heard_on(now).filter(|_| !self.declared_free()) {
            return Err(format!(
                "the primary is alive (heard on the {} network): run 'ipfailoverd release' on the primary (it then hands the addresses over)",
                net.as_str()
            ));
        }
        self.manual = true;
        let detail = "asked by an operator".to_string();
        if self.declared_free() || self.s.timing.takeover_probe.is_zero() {
            self.enter(State::Acquiring, Reason::Manual, detail, now);
            return Ok("taking the addresses over".into());
        }
        // Asked explicitly: probe now, even if a probe was answered lately.
        self.secondary.unblock();
        self.probe_then_take_over(Reason::Manual, detail, now);
        Ok("probing the addresses, then taking them over if nobody answers (see the log)".into())
    }

    fn manual_release(&mut self, now: Instant) -> Result<String, String> {
        // The secondary stands down only for a primary that wants the
        // addresses: otherwise nobody would serve them.
        if self.primary_heard_on(now).is_none() {
            return Err(
                "the primary is not heard: releasing would leave nobody to serve the addresses".into()
            );
        }
        if self.declared_free() {
            return Err("the primary has declared the addresses free (stood down or its public link is down): run 'ipfailoverd takeover' on the primary first".into());
        }
        self.manual = true;
        self.enter(State::Releasing, Reason::Manual, "asked by an operator".into(), now);
        Ok("releasing; the primary takes the addresses back".into())
    }
}
