//! Apple's `/etc/hostconfig` keys (docs/design.md §3), mapped onto the native entries
//! so that one converter checks both forms the same way.

use super::parse::{Errors, Raw};
use super::values;
use super::SystemView;
use std::net::IpAddr;

const KNOWN: [&str; 4] =
    ["FAILOVER_BCAST_IPS", "FAILOVER_PEER_IP", "FAILOVER_PEER_IP_PAIRS", "FAILOVER_EMAIL_RECIPIENT"];

fn words(v: &str) -> Vec<&str> {
    v.split([' ', '\t', ',']).filter(|w| !w.is_empty()).collect()
}

/// Adds entries for a repeatable key unless the native form already has
/// some: mixing both for the same setting is ambiguous.
fn add_repeated(
    raw: &mut Raw,
    errs: &mut Errors,
    key: &'static str,
    line: usize,
    apple: &str,
    values: Vec<String>,
) {
    if let Some(native) = raw.repeated.get(key).and_then(|v| v.first()) {
        errs.at(line, format!("{apple} sets {key}, which is already set on line {}", native.0));
        return;
    }
    raw.repeated.insert(key, values.into_iter().map(|v| (line, v)).collect());
}

fn set_single(raw: &mut Raw, errs: &mut Errors, key: &'static str, line: usize, apple: &str, value: String) {
    match raw.single.get(key) {
        Some((_, v)) if *v == value && key == "role" => {}
        Some((l, _)) => errs.at(line, format!("{apple} sets {key}, which is already set on line {l}")),
        None => {
            raw.single.insert(key, (line, value));
        }
    }
}

fn interface(sys: &dyn SystemView, ip: IpAddr, line: usize, errs: &mut Errors) -> Option<String> {
    let found = sys.interface_for(ip).map(|i| i.as_str().to_string());
    if found.is_none() {
        errs.at(line, format!("no local interface has a subnet containing {ip}"));
    }
    found
}

pub(super) fn map(raw: &mut Raw, sys: &dyn SystemView, errs: &mut Errors) {
    let apple = std::mem::take(&mut raw.apple);
    let mut networks: Vec<(usize, String)> = Vec::new();
    let mut pairs_public: Option<(usize, String)> = None;
    let mut role_line: Option<(usize, &str)> = None;
    for (line, key, value) in &apple {
        let line = *line;
        match key.as_str() {
            "FAILOVER_BCAST_IPS" => {
                let list = words(value);
                if list.len() != 2 {
                    errs.at(line, "FAILOVER_BCAST_IPS: expected two addresses, public then private");
                    continue;
                }
                for (name, w) in ["public", "private"].iter().zip(list) {
                    match values::ip(w) {
                        Ok(ip) => {
                            if let Some(ifname) = interface(sys, ip, line, errs) {
                                networks.push((line, format!("{name} {ifname} {ip}")));
                            }
                        }
                        Err(e) => errs.at(line, format!("FAILOVER_BCAST_IPS: {e}")),
                    }
                }
                role_line = claim_role(role_line, line, "primary", errs);
            }
            "FAILOVER_PEER_IP" => match values::ip(value.trim()) {
                Ok(ip) => {
                    set_single(raw, errs, "peer", line, key, ip.to_string());
                    if let Some(ifname) = interface(sys, ip, line, errs) {
                        networks.push((line, format!("private {ifname} {ip}")));
                    }
                    role_line = claim_role(role_line, line, "secondary", errs);
                }
                Err(e) => errs.at(line, format!("FAILOVER_PEER_IP: {e}")),
            },
            "FAILOVER_PEER_IP_PAIRS" => {
                let list: Vec<String> = words(value).into_iter().map(String::from).collect();
                if list.is_empty() {
                    errs.at(line, "FAILOVER_PEER_IP_PAIRS: expected interface:address pairs");
                    continue;
                }
                match values::service_addr(&list[0]) {
                    Ok((ifname, addr, prefix)) => {
                        let dest = values::broadcast_of(addr, prefix).unwrap_or(addr);
                        pairs_public = Some((line, format!("public {ifname} {dest}")));
                    }
                    Err(e) => errs.at(line, format!("FAILOVER_PEER_IP_PAIRS: {e}")),
                }
                add_repeated(raw, errs, "address", line, key, list);
            }
            "FAILOVER_EMAIL_RECIPIENT" => {
                // The value as one entry, split by the native `notify`
                // converter: an empty list must be refused there as for
                // `notify =`, not leave the pair with no recipient at all.
                add_repeated(raw, errs, "notify", line, key, vec![value.clone()]);
            }
            _ => errs.at(line, format!("unknown Apple key {key:?} (known: {})", KNOWN.join(", "))),
        }
    }
    if let Some((line, role)) = role_line {
        set_single(raw, errs, "role", line, "the FAILOVER_ keys", role.to_string());
        if role == "secondary" {
            networks.extend(pairs_public);
        }
        apple_defaults(raw, line, role);
    }
    if let Some(&(line, _)) = networks.first() {
        let values = networks.into_iter().map(|(_, v)| v).collect();
        add_repeated(raw, errs, "network", line, "the FAILOVER_ keys", values);
    }
}

fn claim_role<'a>(
    prev: Option<(usize, &'a str)>,
    line: usize,
    role: &'a str,
    errs: &mut Errors,
) -> Option<(usize, &'a str)> {
    match prev {
        Some((l, r)) if r != role => {
            errs.at(line, format!("this key makes the node {role}, but line {l} makes it {r}"));
            prev
        }
        Some(p) => Some(p),
        None => Some((line, role)),
    }
}

/// A pair described by hostconfig keys behaves like Apple's, so that either
/// node can still be an old Mac during a migration: the primary's address is
/// configured by the OS (static mode), the primary also sends Apple's
/// datagram and the secondary also accepts it. Native keys override these.
fn apple_defaults(raw: &mut Raw, line: usize, role: &str) {
    let legacy = if role == "primary" { "send" } else { "yes" };
    for (key, value) in [("mode", "static"), ("legacy_heartbeat", legacy)] {
        if let std::collections::btree_map::Entry::Vacant(e) = raw.single.entry(key) {
            e.insert((line, value.to_string()));
            raw.implied.push(key);
        }
    }
}
