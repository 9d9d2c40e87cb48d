//! The control socket's request line. Only root can connect (peer
//! credentials), but the parser must still never panic and must accept
//! nothing beyond the five documented requests.
#![no_main]

use ipfailover::daemon::{parse_request, Format, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Ok(r) = parse_request(&line) {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let expected: &[&str] = match r {
            Request::Status(Format::Text) => &["status"],
            Request::Status(Format::Json) => &["status", "--json"],
            Request::Status(Format::Prometheus) => &["status", "--prometheus"],
            Request::Command(_) => &words[..1],
            Request::Reload => &["reload"],
        };
        assert_eq!(words, expected, "{line:?} -> {r:?}");
        assert!(matches!(words[0], "status" | "takeover" | "release" | "reload"), "{line:?}");
    }
});
