//! The replay-defence state file (`<state_dir>/state`). The daemon writes
//! it (mode 0600 in a root-owned directory), but a torn or hand-edited file
//! must give an error, never a panic.
#![no_main]

use ipfailover::proto::store;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match store::parse(&text) {
        Ok(state) => {
            let peers = text.lines().filter(|l| l.split_whitespace().next() == Some("peer")).count();
            assert_eq!(state.peers.len(), peers);
        }
        Err(msg) => assert!(msg.starts_with("line "), "{msg}"),
    }
});
