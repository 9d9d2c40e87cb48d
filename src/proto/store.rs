//! The state file in `state_dir`: the highest generation this node ever
//! sent and, per peer, the highest (generation, sequence) it accepted.
//! Both survive restarts so that neither a wall clock that went back nor a
//! recorded datagram can bring an old generation back.

use super::replay::Floor;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub generation: u64,
    pub peers: Vec<Floor>,
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state")
}

/// Reads `<dir>/state`. A missing file is a fresh node (`State::default()`);
/// an unreadable or corrupt one is an error the caller must report.
pub fn load(dir: &Path) -> io::Result<State> {
    let path = state_path(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(e),
    };
    parse(&text)
        .map_err(|msg| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {}", path.display(), msg)))
}

/// The state file's text to a `State`. Public so that it can be fuzzed
/// (`fuzz/fuzz_targets/store.rs`): the daemon itself only calls `load`.
pub fn parse(text: &str) -> Result<State, String> {
    let mut state = State::default();
    for (n, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("line {}: cannot read {:?}", n + 1, line);
        match words.as_slice() {
            [] => {}
            [w, ..] if w.starts_with('#') => {}
            ["generation", g] => state.generation = g.parse().map_err(|_| bad())?,
            ["peer", id, g, s] => state.peers.push(Floor {
                sender: u32::from_str_radix(id, 16).map_err(|_| bad())?,
                generation: g.parse().map_err(|_| bad())?,
                seq: s.parse().map_err(|_| bad())?,
            }),
            _ => return Err(bad()),
        }
    }
    Ok(state)
}

fn render(state: &State) -> String {
    let mut out = String::from("# ipfailoverd replay-defence state; do not edit\n");
    out.push_str(&format!("generation {}\n", state.generation));
    for p in &state.peers {
        out.push_str(&format!("peer {:08x} {} {}\n", p.sender, p.generation, p.seq));
    }
    out
}

/// Writes the state atomically: temporary file, fsync, rename, fsync of the
/// directory. Creates `dir` (mode 0700) if needed.
pub fn save(dir: &Path, state: &State) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if !dir.is_dir() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let tmp = dir.join("state.tmp");
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(render(state).as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, state_path(dir))?;
    fs::File::open(dir)?.sync_all()
}

/// The generation for this start: above everything used before and above
/// the wall clock in units of 2^-20 s (about a microsecond, so seconds ×
/// 2^20 plus the fraction), plus 16 random bits. Without the fraction two
/// starts in the same second with lost state drew random numbers only, and
/// half the time the second was older than the first: its peer then
/// dropped everything it sent as `old-generation`. With it, starts more
/// than 2^16 units (62.5 ms) apart always increase.
pub fn next_generation(stored: u64, unix: std::time::Duration, random16: u16) -> u64 {
    stored.saturating_add(1).max(clock_units(unix)).saturating_add(u64::from(random16))
}

/// A time in the units of a generation's clock part, 2^-20 s.
pub fn clock_units(d: std::time::Duration) -> u64 {
    u64::try_from((d.as_nanos() << 20) / 1_000_000_000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ipfo-store-{}-{}", std::process::id(), name));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn round_trip_and_missing_file() {
        let d = tmpdir("rt");
        assert_eq!(load(&d).unwrap(), State::default());
        let s = State { generation: 77, peers: vec![Floor { sender: 0xdead_beef, generation: 5, seq: 9 }] };
        save(&d, &s).unwrap();
        assert_eq!(load(&d).unwrap(), s);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let d = tmpdir("bad");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("state"), "generation banana\n").unwrap();
        let err = load(&d).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn generation_never_goes_back() {
        use std::time::Duration;
        let secs = Duration::from_secs;
        // Clock far behind what was stored: stored + 1 wins.
        let g = next_generation(u64::MAX / 2, secs(10), 0);
        assert_eq!(g, u64::MAX / 2 + 1);
        // Fresh node: the clock decides.
        assert_eq!(next_generation(0, secs(1000), 5), 1000 * (1 << 20) + 5);
        assert_eq!(next_generation(0, Duration::from_millis(1500), 0), 3 << 19);
        // Saturates instead of wrapping.
        assert_eq!(next_generation(u64::MAX, secs(u64::MAX), 7), u64::MAX);
        let a = next_generation(0, secs(1000), 0);
        assert!(next_generation(a, secs(1000), 0) > a);
    }

    #[test]
    fn quick_restarts_without_state_still_increase() {
        use std::time::Duration;
        // Worst case for the random part: high, then low, 63 ms later in
        // the same second.
        let first = next_generation(0, Duration::from_millis(1_000_100), u16::MAX);
        let second = next_generation(0, Duration::from_millis(1_000_163), 0);
        assert!(second > first, "{first} then {second}");
    }
}
