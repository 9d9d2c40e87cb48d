//! The probe thread, one per probe of the service addresses: ARP for
//! IPv4, a neighbour solicitation for IPv6, all addresses of one interface
//! at once, so 256 addresses cost one wait, not 256. It answers the
//! monitor with a `Probed` carrying the probe's id; the monitor decides
//! nothing here and waits for nothing (`monitor/ops.rs` starts it).

use super::post::Post;
use crate::config::ServiceAddr;
use crate::engine::ProbeId;
use crate::log;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Result of probe `id` of the service addresses: `Some(true)` nobody
/// answered, `Some(false)` someone did, `None` the probe failed (a socket
/// error) and nobody answered.
#[derive(Debug)]
pub(super) struct Probed {
    pub id: ProbeId,
    pub free: Option<bool>,
    /// Who answered: "ADDRESS by MAC on INTERFACE", one per answer.
    pub answers: Vec<String>,
}

/// One interface's share of a probe: its name, its IPv4 and IPv6 addresses.
type Group = (String, Vec<Ipv4Addr>, Vec<Ipv6Addr>);

/// The service addresses by interface, in the order of the interfaces' names.
fn groups(addrs: &[ServiceAddr]) -> Vec<Group> {
    let mut groups: BTreeMap<&str, (Vec<Ipv4Addr>, Vec<Ipv6Addr>)> = Default::default();
    for a in addrs {
        let g = groups.entry(a.interface.as_str()).or_default();
        match a.addr {
            IpAddr::V4(v4) => g.0.push(v4),
            IpAddr::V6(v6) => g.1.push(v6),
        }
    }
    groups.into_iter().map(|(i, (v4, v6))| (i.to_string(), v4, v6)).collect()
}

/// Starts probe `id` of `addrs`, each waited for `wait`; its answer goes
/// to `tx`. `Err`: the thread could not be started.
pub(super) fn start(
    id: ProbeId,
    addrs: &[ServiceAddr],
    wait: Duration,
    tx: Post<Probed>,
) -> Result<(), String> {
    let groups = groups(addrs);
    std::thread::Builder::new()
        .name("probe".into())
        .spawn(move || run(id, groups, wait, &tx))
        .map(|_| ())
        .map_err(|e| format!("cannot start the probe thread: {e}"))
}

/// The sockets a probe keeps open until its answer is on its way.
#[derive(Default)]
struct Kept {
    arp: Vec<crate::sys::packet::ArpSocket>,
    nd: Vec<crate::sys::nd::NdSocket>,
}

fn run(id: ProbeId, groups: Vec<Group>, wait: Duration, tx: &Post<Probed>) {
    // Someone answered: not free, whatever else failed. A probe
    // that failed on some interface (no socket, a send refused)
    // and found nobody is a probe not made (`None`): answered all
    // the same, never left for the engine to wait on.
    let (mut answered, mut failures) = (false, 0);
    let mut who = Vec::new();
    // Closing a socket that receives ARP waits for an RCU grace
    // period (12-20 ms measured): the sockets are dropped after
    // the result is on its way.
    let mut kept = Kept::default();
    for (ifname, v4, v6) in groups {
        let answers = probe_interface(&ifname, &v4, &v6, wait, &mut kept, &mut failures);
        for (addr, mac) in answers {
            let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
            // Not a warning: the secondary's probe starts before
            // the silence reaches dead_after, and the primary,
            // alive with its heartbeats lost a while, answers it.
            // What an answer means is the engine's to say (a
            // blocked takeover is mailed and logged, `tell.rs`).
            log::info!("probe: {addr} is in use by {} on {ifname}", mac.join(":"));
            who.push(format!("{addr} by {} on {ifname}", mac.join(":")));
            answered = true;
        }
    }
    let _ = tx.send(Probed { id, free: outcome(answered, failures), answers: who });
    drop(kept);
}

/// Probes the addresses of one interface; each failure is logged and
/// counted in `failures`. Returns who answered, address and MAC.
fn probe_interface(
    ifname: &str,
    v4: &[Ipv4Addr],
    v6: &[Ipv6Addr],
    wait: Duration,
    kept: &mut Kept,
    failures: &mut usize,
) -> Vec<(IpAddr, [u8; 6])> {
    let mut answers: Vec<(IpAddr, [u8; 6])> = Vec::new();
    let mut failed = |e: std::io::Error| {
        log::error!("probe on {ifname} failed: {e}");
        *failures += 1;
    };
    if !v4.is_empty() {
        let probed = crate::sys::packet::ArpSocket::open(ifname).and_then(|s| {
            let found = s.probe(v4, wait);
            kept.arp.push(s);
            found
        });
        match probed {
            Ok(found) => answers.extend(found.into_iter().map(|(a, m)| (IpAddr::V4(a), m))),
            Err(e) => failed(e),
        }
    }
    if !v6.is_empty() {
        let probed = crate::sys::nd::NdSocket::open(ifname).and_then(|s| {
            let found = s.probe(v6, wait);
            kept.nd.push(s);
            found
        });
        match probed {
            Ok(found) => answers.extend(found.into_iter().map(|(a, m)| (IpAddr::V6(a), m))),
            Err(e) => failed(e),
        }
    }
    answers
}

/// A probe's answer for the engine (`Input::Probed`): somebody answered
/// for an address, not free, whatever else failed; else free only if every
/// probe was made, `None` (not made) if one failed.
fn outcome(answered: bool, failures: usize) -> Option<bool> {
    match (answered, failures) {
        (true, _) => Some(false),
        (false, 0) => Some(true),
        (false, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::outcome;

    /// Issue 28 item 9: a probe whose socket failed is answered as not
    /// made rather than as "someone answered" (which blocked the takeover
    /// for good where a neighbour solicitation cannot be sent); an answer
    /// seen on another interface still says the addresses are in use.
    #[test]
    fn a_probe_that_failed_is_not_made_unless_someone_answered() {
        assert_eq!(outcome(false, 0), Some(true), "made, nobody answered: free");
        assert_eq!(outcome(true, 0), Some(false), "someone answered");
        assert_eq!(outcome(false, 1), None, "a socket failed, nobody answered: not made");
        assert_eq!(outcome(true, 2), Some(false), "an answer counts whatever failed");
    }
}
