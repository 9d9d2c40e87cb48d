//! The primary's rules: claim the service addresses at start (managed mode)
//! and keep them; heartbeats are sent by `Engine::send_if_due`.

use super::{Action, Engine, Reason, State};
use crate::config::Mode;
use std::time::Instant;

impl Engine {
    pub(super) fn primary_evaluate(&mut self, now: Instant) {
        match self.state {
            State::Starting => self.primary_claim(now),
            State::Failed if self.retry_at.is_some_and(|t| now >= t) => self.primary_claim(now),
            _ => {}
        }
    }

    fn primary_claim(&mut self, now: Instant) {
        if self.s.mode == Mode::Static {
            let detail = "static mode: the addresses are configured by the OS".to_string();
            self.enter(State::Active, Reason::Startup, detail, now);
            return;
        }
        self.enter(State::Acquiring, Reason::Startup, String::new(), now);
        self.pending.push(Action::Acquire { reason: Reason::Startup });
    }
}
