//! `ipfailoverd`'s own command line. Root runs it; it must never panic and
//! must send the daemon nothing but the four documented requests.
#![no_main]

#[path = "common.rs"]
mod common;

use ipfailover::cli::{self, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = common::argv(data);
    if let Parsed::Control { request, .. } = cli::parse(&args) {
        assert!(
            matches!(request.as_str(), "status" | "status --json" | "takeover" | "release" | "reload"),
            "{request:?} from {args:?}"
        );
        assert!(ipfailover::daemon::parse_request(&format!("{request}\n")).is_ok());
    }
});
