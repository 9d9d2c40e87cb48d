//! Apple's `/etc/hostconfig` form goes through the same parser as the
//! native form (`src/config/apple.rs`); this target has its own seeds (the
//! files of `tests/data/`) and dictionary so that the fuzzer spends its
//! time on the FAILOVER_ keys, their quoting and their lists.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    common::parse_and_check(&text);
});
