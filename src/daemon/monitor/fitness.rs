//! This node's service checks (SPEC 9) as the monitor sees them: the one
//! log line per fitness change, the engine told, the checks' state kept
//! for status.

use super::Monitor;
use crate::daemon::checks::View;
use crate::engine::Input;
use crate::log;

impl Monitor {
    pub(super) fn fitness(&mut self, fit: bool, failing: Option<(String, String)>) {
        if fit {
            log::notice!("fitness: fit: every service check passes");
        } else {
            let (name, line) = failing.unwrap_or_default();
            let line = if line.is_empty() { "(no output)".to_string() } else { line };
            log::warn!("fitness: unfit: check {name} is failing; its last output: {line}");
        }
        self.fit = fit;
        self.feed(Input::Fitness { fit });
    }

    pub(super) fn checks_seen(&mut self, views: Vec<View>) {
        self.check_views = views;
    }
}
