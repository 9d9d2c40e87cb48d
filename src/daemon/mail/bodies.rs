//! The words of the mails: one function per event, each saying what
//! happened, when, why and what was done (docs/design.md §7).

use super::Mail;
use crate::daemon::mover::Report;
use crate::engine::{Outcome, Reason};

fn why(reason: Reason) -> &'static str {
    match reason {
        Reason::BothNetworksSilent => "primary silent on both networks",
        Reason::Goodbye => "primary stopped and said goodbye",
        Reason::PrimaryPublicDown => "primary lost its public link",
        Reason::ServiceCheckFailed => "the primary's service checks fail",
        // Also after a service-check failover, when it never left.
        Reason::PrimaryBack => "the primary claimed them back",
        Reason::Manual => "operator request",
        Reason::Shutdown => "daemon stopping",
        Reason::OwnPublicLinkDown => "our public link is down",
        Reason::AddressLost => "removed from outside this daemon",
        Reason::AddressAdded => "added from outside this daemon",
        _ => reason.as_str(),
    }
}

fn when() -> String {
    crate::timefmt::utc_iso8601(std::time::SystemTime::now())
}

fn hook_lines(r: &Report) -> String {
    let mut s =
        if r.hooks.is_empty() { String::from("Hooks: none ran.\n") } else { String::from("Hooks:\n") };
    let mut failed = 0;
    for h in &r.hooks {
        // Test's non-zero exit is its answer, not a failure; any other
        // hook's is a failure the move went on past (ipfailoverd(8), HOOKS).
        let mark = match (h.exit.success(), h.stage) {
            (true, _) => "",
            (false, crate::hooks::Stage::Test) => " (refused)",
            (false, _) => {
                failed += 1;
                " FAILED"
            }
        };
        let took = crate::timefmt::secs(h.took);
        s.push_str(&format!("  {}: {} after {took}{mark}\n", h.path.display(), h.exit));
    }
    if failed > 0 {
        s.push_str(&format!(
            "{failed} hook(s) FAILED; the move went on regardless (a failing hook never stops one): \
             check what they were to do, their output is in the log.\n"
        ));
    }
    if !r.skipped.is_empty() {
        s.push_str("Hooks NOT run (fix them, they are skipped every time):\n");
        for skip in &r.skipped {
            s.push_str(&format!("  {}: {}\n", skip.path.display(), skip.why));
        }
    }
    s
}

/// A move the engine decided to mail about (takeover, give-back, failures).
pub(in crate::daemon) fn move_mail(
    r: &Report,
    acquire: bool,
    outcome: Outcome,
    detail: &str,
    addr_list: &str,
) -> Mail {
    let addrs = if addr_list.is_empty() { "the service addresses" } else { addr_list };
    let subject = match (acquire, outcome, r.reason) {
        (true, Outcome::Done | Outcome::Partial, Reason::Reload) => {
            format!("reload: could not add every new address of {addrs}")
        }
        (true, Outcome::Partial, Reason::AddressLost) => {
            format!("put {addrs} back only partly ({})", why(r.reason))
        }
        (true, Outcome::Failed, Reason::AddressLost) => {
            format!("putting {addrs} back FAILED ({}): nobody may serve them", why(r.reason))
        }
        (false, Outcome::Failed | Outcome::Partial, Reason::AddressAdded) => {
            format!("removing {addrs} FAILED ({}): two hosts may answer for them", why(r.reason))
        }
        (true, Outcome::Partial, _) => format!("took over {addrs} only partly ({})", why(r.reason)),
        (true, Outcome::Done, _) => format!("took over {addrs} ({})", why(r.reason)),
        (true, Outcome::Vetoed, _) => format!("takeover of {addrs} vetoed by Test ({})", why(r.reason)),
        (true, Outcome::Failed, _) => format!("takeover of {addrs} FAILED ({})", why(r.reason)),
        (false, Outcome::Done, Reason::PrimaryPublicDown) => {
            format!("dropped {addrs} and declared them free (our public link is down)")
        }
        (false, Outcome::Done, Reason::ServiceCheckFailed) => {
            format!("handed {addrs} to the secondary (our service checks fail)")
        }
        (false, Outcome::Done, _) => format!("gave {addrs} back ({})", why(r.reason)),
        (false, Outcome::Vetoed, _) => format!("give-back of {addrs} vetoed by Test"),
        (false, Outcome::Failed | Outcome::Partial, _) => {
            format!("removing {addrs} FAILED ({}): this node still holds them", why(r.reason))
        }
    };
    let mut body = format!(
        "What: {subject}.\nWhen: {}\nWhy: {}.\n",
        when(),
        if detail.is_empty() { why(r.reason) } else { detail }
    );
    body.push_str("\nWhat was done:\n");
    for l in r.done.iter().chain(&r.failures).chain(&r.refused) {
        body.push_str(&format!("  {l}\n"));
    }
    body.push_str(&format!("The move took {}.\n\n", crate::timefmt::secs(r.took)));
    body.push_str(&hook_lines(r));
    if outcome == Outcome::Vetoed && acquire {
        body.push_str("\nThe Test hook refused, so this node did NOT take the addresses (notification-only mode).\nCheck the primary now.\n");
    }
    let backoff = format!(
        "after dead_after, then at doubling intervals up to {} while it keeps failing (the same\noutcome is mailed at most once per mail_min_interval)",
        crate::timefmt::secs(crate::engine::RETRY_CAP)
    );
    if matches!(outcome, Outcome::Failed | Outcome::Partial) && acquire {
        body.push_str(&format!("\nSee the log for the errors; the daemon retries {backoff}.\n"));
    }
    if matches!(outcome, Outcome::Failed | Outcome::Partial) && !acquire && r.reason == Reason::AddressAdded {
        body.push_str(&format!("\nSee the log for the errors. This node does not hold the addresses and does not say it\ndoes; it looks again {backoff}. Remove them by hand (ip addr del).\n"));
    } else if matches!(outcome, Outcome::Failed | Outcome::Partial) && !acquire {
        body.push_str(&format!("\nSee the log for the errors. This node keeps saying that it holds the addresses, so the\npeer does not add them beside ours; the daemon tries again {backoff}.\n"));
    }
    Mail { subject, body }
}

/// Anomaly raised or cleared, from the transition.
pub(in crate::daemon) fn anomaly_mail(detail: &str, raised: bool, net: &str) -> Mail {
    let subject = if raised {
        format!("network anomaly: no heartbeat on the {net} network")
    } else {
        format!("network anomaly cleared: the {net} network carries heartbeats again")
    };
    let mut body = format!("What: {subject}.\nWhen: {}\nDetails: {detail}.\n", when());
    if raised {
        body.push_str("\nThe primary is still heard on the other network, so the secondary keeps its hands\noff the service addresses. Check the cabling and switches of that network.\n");
    }
    Mail { subject, body }
}

pub(in crate::daemon) fn text_mail(subject: String, details: String) -> Mail {
    let body = format!("What: {subject}.\nWhen: {}\nDetails: {details}\n", when());
    Mail { subject, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Direction, Held};
    use crate::hooks::{Exit, Ran, Stage};
    use std::time::Duration;

    fn ran(path: &str, stage: Stage, exit: Exit) -> Ran {
        Ran { path: path.into(), stage, exit, took: Duration::from_millis(20) }
    }

    /// A Pre/Post hook that exits non-zero is marked FAILED and counted;
    /// Test's non-zero exit is its refusal, not a failure.
    #[test]
    fn failed_hooks_are_marked_in_the_mail() {
        let r = Report {
            id: crate::engine::MoveId(1),
            dir: Direction::Release,
            reason: Reason::PrimaryBack,
            held: Held::None,
            vetoed: false,
            done: vec![],
            failures: vec![],
            refused: vec![],
            wrong: vec![],
            hooks: vec![
                ran("/etc/ipfailoverd/a/Test", Stage::Test, Exit::Code(1)),
                ran("/etc/ipfailoverd/a/PreRel10", Stage::PreRel, Exit::Code(0)),
                ran("/etc/ipfailoverd/a/PostRel10", Stage::PostRel, Exit::Code(3)),
            ],
            skipped: vec![],
            took: Duration::from_millis(60),
            strays: vec![],
            watch: None,
        };
        let text = hook_lines(&r);
        assert!(text.contains("Test: exit status 1 after 20ms (refused)\n"), "{text}");
        assert!(text.contains("PreRel10: exit status 0 after 20ms\n"), "{text}");
        assert!(text.contains("PostRel10: exit status 3 after 20ms FAILED\n"), "{text}");
        assert!(text.contains("1 hook(s) FAILED; the move went on"), "{text}");
    }
}
