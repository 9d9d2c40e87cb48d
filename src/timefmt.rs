//! Time as people read it: durations for logs and mail, and calendar
//! arithmetic for timestamps, written in-tree (libc-only rule). Pure: the
//! engine, the hooks and the daemon all format through here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// "2.5s", "600ms": durations as people read them in logs and mail.
pub(crate) fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
/// The algorithm is Howard Hinnant's `civil_from_days`.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds and milliseconds since the epoch (negative times clamp to 0).
fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(_) => (0, 0),
    }
}

/// `2026-11-25T10:04:05.123Z`
pub(crate) fn utc_iso8601(t: SystemTime) -> String {
    let (secs, millis) = split(t);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_515), (2026, 3, 3));
        let t = UNIX_EPOCH + Duration::from_millis(1_764_065_045_123);
        assert_eq!(utc_iso8601(t), "2025-11-25T10:04:05.123Z");
    }

    #[test]
    fn days_round_trip_over_centuries() {
        // Walk day by day from 1900 to 2400 checking month/day succession.
        let mut prev = civil_from_days(-25_567); // 1900-01-01
        assert_eq!(prev, (1900, 1, 1));
        for d in -25_566..157_000 {
            let cur = civil_from_days(d);
            let next_day = cur.2 == prev.2 + 1 && cur.1 == prev.1 && cur.0 == prev.0;
            let next_month = cur.2 == 1 && (cur.1 == prev.1 + 1 && cur.0 == prev.0);
            let next_year = (cur.1, cur.2) == (1, 1) && cur.0 == prev.0 + 1 && prev.1 == 12;
            assert!(next_day || next_month || next_year, "{prev:?} -> {cur:?}");
            let leap = (cur.0 % 4 == 0 && cur.0 % 100 != 0) || cur.0 % 400 == 0;
            if cur.1 == 2 && cur.2 == 29 {
                assert!(leap, "{cur:?}");
            }
            prev = cur;
        }
    }
}
