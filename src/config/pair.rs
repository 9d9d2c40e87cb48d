//! The pair's name (docs/design.md §10): `pair = NAME`, or, when the file has no such
//! line, a name derived from what both nodes of one pair configure alike
//! and what two pairs on one network cannot share: the service addresses
//! (and the port). `docs/protocol.md`, "Pair id", says why these and why
//! the daemon derives it once, at start.

use std::net::IpAddr;

/// How a derived name starts; an operator may copy one into `pair` to keep
/// it across a change of the address list.
pub(super) const DERIVED_PREFIX: &str = "auto-";

/// The name a pair goes by, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PairName {
    pub name: String,
    /// Derived from the configuration, not written in it.
    pub derived: bool,
}

/// `pair = NAME`: 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub(super) fn name(v: &str) -> Result<String, String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if v.is_empty() || v.len() > 64 || !v.bytes().all(ok) {
        return Err(format!("{v:?} must be 1 to 64 letters, digits, '.', '_' or '-'"));
    }
    Ok(v.to_string())
}

/// `auto-` and 12 hex digits of SHA-256 over the sorted service addresses
/// and the port. Interface names and prefixes are left out: the two nodes
/// may name their interfaces differently (eth0 here, ens3 there) and are
/// still one pair. `None` without an address (a static primary that lists
/// none): the pair is then unnamed unless `pair` is set.
pub(super) fn derived(addrs: impl Iterator<Item = IpAddr>, port: u16) -> Option<String> {
    let mut addrs: Vec<IpAddr> = addrs.collect();
    if addrs.is_empty() {
        return None;
    }
    addrs.sort();
    addrs.dedup();
    let list: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    let text = format!("ipfailover pair name v1\0{}\0{port}", list.join(","));
    let d = crate::crypto::sha256::digest(text.as_bytes());
    let hex: String = d[..6].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{DERIVED_PREFIX}{hex}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn names_are_short_and_plain() {
        for good in ["web", "db-1.example_A", &"x".repeat(64)] {
            assert_eq!(name(good).as_deref(), Ok(good));
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65), "a:b"] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn derived_from_the_set_of_addresses_and_the_port() {
        let a = derived(ips(&["198.18.0.10", "198.18.0.11"]).into_iter(), 1694).unwrap();
        assert!(a.starts_with("auto-") && a.len() == 17 && name(&a).is_ok(), "{a}");
        let order = derived(ips(&["198.18.0.11", "198.18.0.10"]).into_iter(), 1694).unwrap();
        assert_eq!(a, order, "the order of the address lines does not matter");
        let other = derived(ips(&["198.18.0.20"]).into_iter(), 1694).unwrap();
        assert_ne!(a, other, "two pairs on one network have different addresses");
        assert_ne!(a, derived(ips(&["198.18.0.10", "198.18.0.11"]).into_iter(), 1695).unwrap());
        assert_eq!(derived(std::iter::empty(), 1694), None);
    }
}
