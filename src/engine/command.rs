//! Operator commands (`ipfailoverd takeover` / `release`), through the same
//! moves as everything else, refused when they would put the addresses on
//! both nodes.

use super::{Action, Command, Engine, Reason, State};
use crate::config::{NetId, Role};
use crate::proto::Flags;
use std::time::Instant;

impl Engine {
    pub(super) fn command(&mut self, c: Command, now: Instant) {
        let answer = match (self.s.role, c) {
            (_, _) if self.stopping => Err("the daemon is stopping".to_string()),
            (_, _) if matches!(self.state, State::Acquiring | State::Releasing) => {
                Err(format!("a move is in progress ({}); try again in a moment", self.state))
            }
            (_, Command::Takeover) if self.holding() => Ok("this node already holds the addresses".into()),
            (_, Command::Release) if !self.holding() => Ok("this node does not hold the addresses".into()),
            (_, Command::Takeover) if !self.link_up[NetId::Public.index()] => {
                Err("our public link is down: taking the addresses would serve nobody".into())
            }
            (Role::Secondary, Command::Takeover) => self.manual_takeover(now),
            (Role::Primary, Command::Takeover) => {
                self.manual = true;
                self.claim(Reason::Manual, "asked by an operator".into(), now);
                Ok("claiming the addresses from the secondary".into())
            }
            (_, Command::Release) => {
                self.manual = true;
                self.enter(State::Releasing, Reason::Manual, "asked by an operator".into(), now);
                self.pending.push(Action::Release { reason: Reason::Manual });
                Ok(match self.s.role {
                    Role::Primary => "releasing; the secondary takes the addresses over".into(),
                    Role::Secondary => "releasing; the primary may claim the addresses".into(),
                })
            }
        };
        self.pending.push(Action::Answer(answer));
    }

    fn manual_takeover(&mut self, now: Instant) -> Result<String, String> {
        let heard = NetId::ALL.iter().any(|&n| self.fresh(n, now));
        // A static primary holds its addresses through the OS.
        let primary_holds = self.peer_flags.is_some_and(|f| f.has(Flags::HOLDING) || f.has(Flags::STATIC));
        if heard && primary_holds {
            return Err("the primary is alive and holds the addresses: run 'ipfailoverd release' on the primary (it then hands them over)".into());
        }
        self.manual = true;
        let detail = "asked by an operator".to_string();
        self.enter(State::Acquiring, Reason::Manual, detail, now);
        self.pending.push(Action::Acquire { reason: Reason::Manual });
        Ok("taking the addresses over".into())
    }
}
