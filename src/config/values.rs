//! Typed values: each parser turns one value's text into its type or a
//! message saying what is wrong with it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// An interface name that fits the kernel's IFNAMSIZ.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IfName(String);

impl IfName {
    pub fn new(s: &str) -> Result<IfName, String> {
        if s.is_empty() {
            return Err("empty interface name".into());
        }
        if s.len() >= super::IFNAMSIZ {
            return Err(format!("interface name {s:?} is longer than {} bytes", super::IFNAMSIZ - 1));
        }
        if s == "."
            || s == ".."
            || s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        {
            return Err(format!("{s:?} is not a valid interface name"));
        }
        Ok(IfName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The interface of a network the file has not set (yet). Only the
    /// parser holds one: a file that leaves a network unset is refused.
    pub(super) fn unset() -> IfName {
        IfName(String::new())
    }
}

impl std::fmt::Display for IfName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `10ms`, `1s`, `1.5s`: a number and a unit, no more than 3 decimals of
/// seconds; a bare number is refused because `3` could mean anything.
pub(super) fn duration(s: &str) -> Result<Duration, String> {
    let (num, millis_per_unit) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1u64)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000u64)
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("duration {s:?} needs a unit (ms or s)"));
    } else {
        return Err(format!("{s:?} is not a duration (examples: 200ms, 3s, 1.5s)"));
    };
    let bad = || format!("{s:?} is not a duration (examples: 200ms, 3s, 1.5s)");
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if num.ends_with('.') {
        return Err(bad());
    }
    let int: u64 = int.parse().map_err(|_| format!("duration {s:?} is too large"))?;
    // Fractions are exact to the millisecond.
    let scale = millis_per_unit;
    let mut frac_millis = 0u64;
    let mut unit = scale;
    for d in frac.bytes() {
        unit /= 10;
        if unit == 0 {
            if d != b'0' {
                return Err(format!("duration {s:?} is finer than a millisecond"));
            }
            continue;
        }
        frac_millis += u64::from(d - b'0') * unit;
    }
    let millis = int
        .checked_mul(scale)
        .and_then(|m| m.checked_add(frac_millis))
        .filter(|&m| m <= 86_400_000 * 365)
        .ok_or_else(|| format!("duration {s:?} is too large"))?;
    Ok(Duration::from_millis(millis))
}

/// A duration from `min` to `max`.
pub(super) fn duration_in(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let d = duration(s)?;
    if d < min || d > max {
        return Err(format!("{s} is out of range ({min:?} to {max:?})"));
    }
    Ok(d)
}

/// A whole number from `min` to `max`.
pub(super) fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    s: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("{s:?} must be a number from {min} to {max}")),
    }
}

/// One of the words in `options`.
pub(super) fn choice<T: Copy>(s: &str, options: &[(&str, T)]) -> Result<T, String> {
    options.iter().find(|(n, _)| *n == s).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        format!("{s:?} is not one of {}", names.join(", "))
    })
}

/// An absolute path: a relative one would depend on where the daemon was
/// started from.
pub(super) fn path(s: &str) -> Result<PathBuf, String> {
    if s.starts_with('/') {
        Ok(PathBuf::from(s))
    } else {
        Err(format!("{s:?} must be an absolute path"))
    }
}

/// An IP address, with precise messages for forms people try.
pub(super) fn ip(s: &str) -> Result<IpAddr, String> {
    if s.starts_with('[') || s.ends_with(']') {
        return Err(format!("{s:?}: write addresses without brackets"));
    }
    if let Some((a, _)) = s.split_once('%') {
        return Err(format!(
            "{s:?}: zone indexes are not allowed here (the interface is given separately; use {a})"
        ));
    }
    let addr: IpAddr = s.parse().map_err(|_| format!("{s:?} is not an IP address"))?;
    Ok(addr)
}

/// `address:port` for a TCP listener (`[v6]:port` for IPv6): numeric,
/// with a port other than 0 (the operator's scraper must know it).
pub(super) fn listen(s: &str) -> Result<SocketAddr, String> {
    let example = "examples: 127.0.0.1:9101, [::1]:9101";
    let addr: SocketAddr = s.parse().map_err(|_| {
        if s.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("{s:?} has no port: write an IPv6 address in brackets ({example})")
        } else if s.parse::<IpAddr>().is_ok() {
            format!("{s:?} has no port ({example})")
        } else {
            format!("{s:?} is not address:port ({example})")
        }
    })?;
    if addr.port() == 0 {
        return Err(format!("{s:?}: the port must be from 1 to 65535"));
    }
    if let SocketAddr::V6(v6) = addr {
        if v6.scope_id() != 0 {
            return Err(format!("{s:?}: zone indexes are not allowed here"));
        }
    }
    Ok(addr)
}

/// `ifname:address[/prefix]` as used by `address` and Apple's pairs.
pub(super) fn service_addr(s: &str) -> Result<(IfName, IpAddr, u8), String> {
    let (ifname, rest) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} should be interface:address/prefix, e.g. eth0:198.18.0.10/24"))?;
    if s.split('/').next().is_some_and(|a| a.parse::<IpAddr>().is_ok()) {
        return Err(format!("{s:?} has no interface: write it as interface:address/prefix, e.g. eth0:{s}"));
    }
    let ifname = IfName::new(ifname)?;
    let (addr, prefix) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest, None),
    };
    let addr = ip(addr)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && n > 0 => n,
            _ => return Err(format!("prefix {p:?} must be a number from 1 to {max}")),
        },
    };
    Ok((ifname, addr, prefix))
}

/// A mail recipient that cannot break a header.
pub(super) fn recipient(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("empty mail recipient".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<' || c == '>' || c == '"')
    {
        return Err(format!("{s:?} is not a plain mail address"));
    }
    Ok(s.to_string())
}

pub(super) const FACILITIES: [&str; 19] = [
    "auth", "authpriv", "cron", "daemon", "kern", "local0", "local1", "local2", "local3", "local4", "local5",
    "local6", "local7", "lpr", "mail", "news", "syslog", "user", "uucp",
];

/// Broadcast of an IPv4 address/prefix, if the prefix leaves room for one.
pub(super) fn broadcast_of(addr: IpAddr, prefix: u8) -> Option<IpAddr> {
    match addr {
        IpAddr::V4(a) if prefix < 31 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(a) | !mask)))
        }
        _ => None,
    }
}
