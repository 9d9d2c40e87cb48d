//! This node's service checks (docs/design.md §9) as the monitor sees them: the one
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
        self.view.fit = fit;
        self.feed(Input::Fitness { fit });
    }

    pub(super) fn checks_seen(&mut self, views: Vec<View>) {
        self.view.check_views = views;
    }
}

/// The words of `Notice::TakeoverGated`: the primary should be taken over
/// but this node's own checks fail. They name each failing check and its
/// last run, output line included: an operator reading "NOT taking over"
/// must see which check said no and what it said (a witness check, such
/// as scripts/examples/check-witness, saying this node lost its way to a
/// third host on the public network).
pub(super) fn gated_words(views: &[View]) -> (String, String) {
    use crate::daemon::checks::board::Verdict;
    let failing: Vec<&View> = views.iter().filter(|v| v.verdict == Verdict::Failing).collect();
    let names: Vec<&str> = failing.iter().map(|v| v.name.as_str()).collect();
    let subject = match names.as_slice() {
        [] => "primary gone but our own service checks fail: NOT taking over yet".to_string(),
        [one] => format!("primary gone but check {one} fails here: NOT taking over yet"),
        many => format!("primary gone but checks {} fail here: NOT taking over yet", many.join(", ")),
    };
    let runs: Vec<String> = failing
        .iter()
        .map(|v| match &v.last {
            Some(l) => {
                let line = l.line.as_deref().filter(|s| !s.is_empty()).unwrap_or("(no output)");
                format!(
                    "check {} failed {} in a row, the last one: {} after {}: {line}",
                    v.name,
                    v.streak,
                    l.exit,
                    crate::timefmt::secs(l.took)
                )
            }
            None => format!("check {} is failing", v.name),
        })
        .collect();
    let which = if runs.is_empty() {
        "this node's service checks fail".to_string()
    } else {
        format!("this node's own checks fail ({})", runs.join("; "))
    };
    let details = format!(
        "The primary should be taken over, but {which}, and check_gates_takeover = yes. \
         A failing check that asks a third host on the public network (a witness, such as check-witness) \
         means this node may be the one cut off, not the primary dead. \
         It takes the addresses over as soon as its checks pass; 'ipfailoverd status' shows every check."
    );
    (subject, details)
}

#[cfg(test)]
mod tests {
    use super::gated_words;
    use crate::daemon::checks::board::Verdict;
    use crate::daemon::checks::{LastRun, View};
    use crate::runner::Exit;
    use std::time::{Duration, Instant};

    fn view(name: &str, verdict: Verdict, line: Option<&str>, exit: Exit) -> View {
        let last = LastRun {
            exit,
            took: Duration::from_millis(760),
            line: line.map(String::from),
            at: Instant::now(),
        };
        View { name: name.to_string(), verdict, streak: 3, last: Some(last) }
    }

    #[test]
    fn gated_words_name_the_failing_check_and_its_output() {
        let views = [
            view("web", Verdict::Passing, Some("http://127.0.0.1:80/: HTTP 200"), Exit::Code(0)),
            view(
                "witness",
                Verdict::Failing,
                Some("witness (default gateway) 198.18.0.254 does not answer ping on pub0"),
                Exit::Code(1),
            ),
        ];
        let (subject, details) = gated_words(&views);
        assert_eq!(subject, "primary gone but check witness fails here: NOT taking over yet");
        assert!(
            details.contains(
                "check witness failed 3 in a row, the last one: exit status 1 after 760ms: \
                 witness (default gateway) 198.18.0.254 does not answer ping on pub0"
            ),
            "{details}"
        );
        assert!(!details.contains("web"), "a passing check is not named: {details}");
        assert!(!details.contains('\n'), "one log line: {details}");
    }

    #[test]
    fn gated_words_with_several_failing_checks_or_a_silent_one() {
        let views = [
            view("web", Verdict::Failing, None, Exit::TimedOut),
            view("witness", Verdict::Failing, Some(""), Exit::Code(2)),
        ];
        let (subject, details) = gated_words(&views);
        assert_eq!(subject, "primary gone but checks web, witness fail here: NOT taking over yet");
        assert!(details.contains("check web failed 3 in a row, the last one: timed out (process group killed) after 760ms: (no output)"), "{details}");
        assert!(
            details.contains("; check witness failed 3 in a row, the last one: exit status 2"),
            "{details}"
        );
        // No view yet (cannot happen once a check has failed): still says why.
        let (subject, details) = gated_words(&[]);
        assert!(subject.contains("NOT taking over yet"), "{subject}");
        assert!(
            details.contains("this node's service checks fail, and check_gates_takeover = yes"),
            "{details}"
        );
    }
}
