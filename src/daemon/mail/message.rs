//! Mail to the administrator: RFC 5322 messages built in-tree and piped to
//! `sendmail -t -oi` by the notifier thread (`daemon/mail/mod.rs`).
#![forbid(unsafe_code)]

use crate::timefmt::civil_from_days;

/// One event worth telling the administrator about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mail {
    /// What happened, short: it becomes part of the Subject.
    pub subject: String,
    /// The body: what happened, when, why, what was done.
    pub body: String,
}

/// Everything that is the same for every message this daemon sends.
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    /// `ipfailoverd`, or `ipfailoverd/NAME` for a pair named by `pair`
    /// (`Config::ident`): two instances on one host mail distinct subjects.
    pub tag: String,
    pub hostname: String,
    pub to: Vec<String>,
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// RFC 5322 date-time, e.g. `Wed, 25 Nov 2026 10:04:05 +0100`, for the
/// instant `unix` seconds and the local offset east of UTC in seconds.
pub(crate) fn rfc5322_date(unix: i64, offset_secs: i32) -> String {
    let local = unix + i64::from(offset_secs);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let off = offset_secs.unsigned_abs() / 60;
    format!(
        "{weekday}, {d} {} {y:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// Header values come from configuration and host names: anything that
/// could end a header line is replaced, so nothing can inject headers.
fn header_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The complete message, CRLF line endings not required by sendmail -t:
/// LF is used, as local submission expects.
pub(crate) fn render(env: &Envelope, mail: &Mail, unix: i64, offset_secs: i32, unique: u64) -> String {
    let host = header_safe(&env.hostname);
    let to: Vec<String> = env.to.iter().map(|t| header_safe(t)).collect();
    let subject = header_safe(&format!("[{}] {host}: {}", env.tag, mail.subject));
    let mut out = String::new();
    out.push_str(&format!("Date: {}\n", rfc5322_date(unix, offset_secs)));
    out.push_str(&format!("From: ipfailoverd@{host}\n"));
    out.push_str(&format!("To: {}\n", to.join(", ")));
    out.push_str(&format!("Subject: {subject}\n"));
    out.push_str(&format!("Message-ID: <ipfailoverd.{unix}.{unique:016x}@{host}>\n"));
    out.push_str("Auto-Submitted: auto-generated\n");
    out.push_str("MIME-Version: 1.0\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\n");
    out.push_str("Content-Transfer-Encoding: 8bit\n\n");
    for line in mail.body.lines() {
        // A lone "." ends the message for some MTAs without -oi; be safe.
        if line == "." {
            out.push_str("..\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0, 0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_795_597_445, 3600), "Wed, 25 Nov 2026 10:04:05 +0100");
        assert_eq!(rfc5322_date(1_795_597_445, -5 * 3600 - 1800), "Wed, 25 Nov 2026 03:34:05 -0530");
        assert_eq!(rfc5322_date(951_782_400, 0), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn message_headers_and_injection() {
        let env = Envelope {
            tag: "ipfailoverd".into(),
            hostname: "db2\nBcc: evil@x".into(),
            to: vec!["root".into(), "a@b\r\nX: y".into()],
        };
        let mail = Mail { subject: "took over 198.18.0.10\n(x)".into(), body: "line one\n.\nend".into() };
        let m = render(&env, &mail, 1_795_608_245, 0, 7);
        let headers: Vec<&str> = m.split("\n\n").next().unwrap().lines().collect();
        assert_eq!(headers.len(), 9, "{m}");
        assert!(headers.iter().all(|h| !h.starts_with("Bcc") && !h.starts_with("X:")), "{m}");
        assert!(m.contains("Subject: [ipfailoverd] db2 Bcc: evil@x: took over 198.18.0.10 (x)\n"), "{m}");
        assert!(m.contains("Auto-Submitted: auto-generated\n"));
        assert!(m.contains("\nline one\n..\nend\n"));
    }
}
