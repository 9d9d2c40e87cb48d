//! The words of the mails: one function per event, each saying what
//! happened, when, why and what was done (SPEC 7).

use super::mover::Report;
use crate::engine::{Moved, Reason, Transition};
use crate::mail::Mail;

fn why(reason: Reason) -> &'static str {
    match reason {
        Reason::BothNetworksSilent => "primary silent on both networks",
        Reason::Goodbye => "primary stopped and said goodbye",
        Reason::PrimaryPublicDown => "primary lost its public link",
        Reason::PrimaryBack => "primary is back",
        Reason::Manual => "operator request",
        Reason::Shutdown => "daemon stopping",
        _ => reason.as_str(),
    }
}

fn when() -> String {
    crate::timefmt::utc_iso8601(std::time::SystemTime::now())
}

fn hook_lines(r: &Report) -> String {
    if r.hooks.is_empty() {
        return "Hooks: none ran.\n".into();
    }
    let mut s = String::from("Hooks:\n");
    for h in &r.hooks {
        s.push_str(&format!("  {}: {} after {}\n", h.path.display(), h.exit, crate::engine::secs(h.took)));
    }
    s
}

/// After a takeover or give-back on the secondary.
pub fn move_mail(r: &Report, detail: &str, addr_list: &str, role_secondary: bool) -> Option<Mail> {
    let addrs = if addr_list.is_empty() { "the service addresses" } else { addr_list };
    let subject = match (r.acquire, r.moved) {
        (true, Moved::Done) if !r.failures.is_empty() => {
            format!("took over {addrs} only partly ({})", why(r.reason))
        }
        (true, Moved::Done) => format!("took over {addrs} ({})", why(r.reason)),
        (true, Moved::Vetoed) => format!("takeover of {addrs} vetoed by Test ({})", why(r.reason)),
        (true, Moved::Failed) => format!("takeover of {addrs} FAILED ({})", why(r.reason)),
        (false, Moved::Done) => format!("gave {addrs} back ({})", why(r.reason)),
        (false, Moved::Vetoed) => format!("give-back of {addrs} vetoed by Test"),
        (false, Moved::Failed) => format!("give-back of {addrs} FAILED"),
    };
    if !role_secondary && r.moved == Moved::Done && r.reason != Reason::PrimaryPublicDown {
        // The primary taking its own addresses is routine: logged, not mailed.
        return None;
    }
    let mut body = format!(
        "What: {subject}.\nWhen: {}\nWhy: {}.\n",
        when(),
        if detail.is_empty() { why(r.reason) } else { detail }
    );
    body.push_str("\nWhat was done:\n");
    for l in r.done.iter().chain(&r.failures).chain(&r.vetoed) {
        body.push_str(&format!("  {l}\n"));
    }
    body.push_str(&format!("The move took {}.\n\n", crate::engine::secs(r.took)));
    body.push_str(&hook_lines(r));
    if r.moved == Moved::Vetoed && r.acquire {
        body.push_str("\nThe Test hook refused, so this node did NOT take the addresses (notification-only mode).\nCheck the primary now.\n");
    }
    if r.moved == Moved::Failed {
        body.push_str("\nSee the log for the errors; the daemon retries after dead_after.\n");
    }
    Some(Mail { subject, body })
}

/// Anomaly raised or cleared, from the transition.
pub fn anomaly_mail(t: &Transition, raised: bool, net: &str) -> Mail {
    let subject = if raised {
        format!("network anomaly: no heartbeat on the {net} network")
    } else {
        format!("network anomaly cleared: the {net} network carries heartbeats again")
    };
    let mut body = format!("What: {subject}.\nWhen: {}\nDetails: {}.\n", when(), t.detail);
    if raised {
        body.push_str("\nThe primary is still heard on the other network, so the secondary keeps its hands\noff the service addresses. Check the cabling and switches of that network.\n");
    }
    Mail { subject, body }
}

pub fn text_mail(subject: String, details: String) -> Mail {
    let body = format!("What: {subject}.\nWhen: {}\nDetails: {details}\n", when());
    Mail { subject, body }
}
