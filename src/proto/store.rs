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
/// the wall clock (seconds × 2^20), plus 16 random bits so two quick
/// restarts with lost state still differ.
pub fn next_generation(stored: u64, unix_secs: u64, random16: u16) -> u64 {
    let clock = unix_secs.saturating_mul(1 << 20);
    stored.saturating_add(1).max(clock).saturating_add(u64::from(random16))
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
        // Clock far behind what was stored: stored + 1 wins.
        let g = next_generation(u64::MAX / 2, 10, 0);
        assert_eq!(g, u64::MAX / 2 + 1);
        // Fresh node: the clock decides.
        assert_eq!(next_generation(0, 1000, 5), 1000 * (1 << 20) + 5);
        // Saturates instead of wrapping.
        assert_eq!(next_generation(u64::MAX, u64::MAX, 7), u64::MAX);
        let a = next_generation(0, 1000, 0);
        assert!(next_generation(a, 1000, 0) > a);
    }
}
