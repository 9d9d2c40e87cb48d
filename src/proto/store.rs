//! The state file in `state_dir`: the highest generation this node ever
//! sent and, per peer, the highest (generation, sequence) it accepted.
//! Both survive restarts so that neither a wall clock that went back nor a
//! recorded datagram can bring an old generation back. Also whether the
//! peer has proved (with the key) that it speaks protocol v1: from then on
//! Apple's unauthenticated text no longer counts, after a restart too. So the file fails
//! closed: one that cannot be trusted stops the start (`load`), it is
//! never replaced by an empty state.

use super::ids::{Generation, SenderId, Seq};
use super::replay::Floor;
use crate::sys;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub generation: Generation,
    pub peers: Vec<Floor>,
    /// The line `peer-speaks-v1`; absent in files written before it
    /// existed, which read as `false`.
    pub peer_speaks_v1: bool,
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state")
}

/// The state file of `dir`, for messages and the recovery command.
pub(crate) fn file_of(dir: &Path) -> PathBuf {
    state_path(dir)
}

/// Reads `<dir>/state`. A missing file (or directory) is a fresh node
/// (`State::default()`). Anything else that keeps us from trusting it is an
/// error the caller must not paper over: an empty state would accept
/// recorded datagrams of old generations again. That is a file we cannot
/// read or parse, a symbolic link, a file or directory that is not ours or
/// that others may write.
pub(crate) fn load(dir: &Path) -> io::Result<State> {
    let path = state_path(dir);
    let refuse =
        |why: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display()));
    match fs::symlink_metadata(dir) {
        Ok(meta) => {
            if let Some(why) = distrust("state_dir", &meta, true) {
                return Err(refuse(why));
            }
        }
        Err(e) if fresh(&e) => return Ok(State::default()),
        Err(e) => return Err(refuse(e.to_string())),
    }
    let mut file = match sys::fs::open_read(&path) {
        Ok(f) => f,
        Err(e) if fresh(&e) => return Ok(State::default()),
        Err(e) if sys::fs::is_link_refused(&e) => return Err(refuse("is a symbolic link".into())),
        Err(e) => return Err(refuse(e.to_string())),
    };
    if let Some(why) = distrust("the file", &file.metadata()?, false) {
        return Err(refuse(why));
    }
    // A state file is a few hundred bytes; a huge one is not ours.
    let mut text = String::new();
    (&mut file).take(MAX_FILE).read_to_string(&mut text).map_err(|e| refuse(e.to_string()))?;
    if text.len() as u64 >= MAX_FILE {
        return Err(refuse(format!("larger than {MAX_FILE} bytes")));
    }
    parse(&text).map_err(refuse)
}

/// Larger than any state file the daemon writes (8 peers of one line).
const MAX_FILE: u64 = 64 * 1024;

/// No state was ever written here: the file or a directory above it is
/// missing.
fn fresh(e: &io::Error) -> bool {
    sys::fs::is_missing(e)
}

/// Why the state directory (`dir`) or file must not be trusted, if so: it
/// must be what it says (not a symbolic link), belong to root or to us, and
/// be writable by nobody else.
fn distrust(what: &str, meta: &fs::Metadata, dir: bool) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Some(format!("{what} is a symbolic link"));
    }
    if dir && !kind.is_dir() {
        return Some(format!("{what} is not a directory"));
    }
    if !dir && !kind.is_file() {
        return Some(format!("{what} is not a regular file"));
    }
    let uid = meta.uid();
    if uid != 0 && uid != sys::fs::euid() {
        return Some(format!("{what} is owned by uid {uid}, not by root or by us"));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!("{what} has mode {mode:04o}: others may write it"));
    }
    None
}

/// What to do about a state directory that `load` and `save` refuse, if
/// they do: the directory's own owner or mode is the fault, and moving the
/// state file away (the advice for a bad file) would not help. A mode with
/// the sticky bit and world-writable (1777) is a directory every user
/// shares, such as /tmp: it needs a directory of its own, not a chmod.
pub(crate) fn dir_advice(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(dir).ok()?;
    let why = distrust("state_dir", &meta, true)?;
    let d = dir.display();
    let kind = meta.file_type();
    let mode = meta.mode() & 0o7777;
    Some(if kind.is_symlink() || !kind.is_dir() {
        format!(
            "{d}: {why}: set state_dir to a real directory of root's (it is created with mode 0700 if \
             missing)"
        )
    } else if meta.uid() != 0 && meta.uid() != sys::fs::euid() {
        format!("{d}: {why}: give it to root: chown root {d} && chmod 0700 {d}")
    } else if mode & 0o1002 == 0o1002 {
        format!(
            "{d} has mode {mode:04o}: a directory every user shares (such as /tmp), where anyone could \
             place or swap a state file: set state_dir to a directory of its own, such as \
             /var/lib/ipfailoverd (created with mode 0700 if missing)"
        )
    } else {
        format!("{d} has mode {mode:04o}: others may write it: chmod 0700 {d} (no one but root needs it)")
    })
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
            ["generation", g] => state.generation = Generation(g.parse().map_err(|_| bad())?),
            ["peer-speaks-v1"] => state.peer_speaks_v1 = true,
            ["peer", id, g, s] => state.peers.push(Floor {
                sender: SenderId(u32::from_str_radix(id, 16).map_err(|_| bad())?),
                generation: Generation(g.parse().map_err(|_| bad())?),
                seq: Seq(s.parse().map_err(|_| bad())?),
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
    if state.peer_speaks_v1 {
        out.push_str("peer-speaks-v1\n");
    }
    out
}

/// Locks `dir` (created, mode 0700, if missing) for this daemon's life:
/// two daemons writing one state file would each take the other's
/// generations for their own, and the replay defence of both would rest on
/// whichever wrote last. `Ok(None)`: another running daemon holds it. The
/// lock (`flock(2)` on the directory) goes with the returned file, also
/// when the process dies.
pub(crate) fn lock(dir: &Path) -> io::Result<Option<fs::File>> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let file = sys::fs::open_dir(dir)?;
    Ok(sys::fs::try_lock(&file)?.then_some(file))
}

/// Writes the state atomically: a new temporary file (O_EXCL, never
/// through a symbolic link; a stale one is unlinked first, which removes a
/// link itself, not its target), fsync, rename over the state file (which
/// replaces a link, never writes through it), fsync of the directory.
/// Creates `dir` (mode 0700) if needed; refuses one that is not ours.
/// `durable`: wait until the state is on the disk (fsync of the file and
/// of the directory), for what must survive a power loss: a generation.
/// Without, the rename still makes the new state whole or absent for any
/// reader and after a crash of the daemon; the kernel writes it out soon.
pub(crate) fn save(dir: &Path, state: &State, durable: bool) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    if let Some(why) = distrust("state_dir", &fs::symlink_metadata(dir)?, true) {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("{}: {why}", dir.display())));
    }
    let tmp = dir.join("state.tmp");
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = sys::fs::create_new(&tmp, 0o600)?;
    f.write_all(render(state).as_bytes())?;
    if durable {
        f.sync_all()?;
    }
    drop(f);
    fs::rename(&tmp, state_path(dir))?;
    if durable {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The generation for this start: above everything used before and above
/// the wall clock in units of 2^-20 s (about a microsecond, so seconds ×
/// 2^20 plus the fraction), plus 16 random bits. Without the fraction two
/// starts in the same second with lost state drew random numbers only, and
/// half the time the second was older than the first: its peer then
/// dropped everything it sent as `old-generation`. With it, starts more
/// than 2^16 units (62.5 ms) apart always increase, and since a start
/// waits until the clock has passed its generation (`clock_wait`) before
/// it sends, so do starts closer than that.
pub(crate) fn next_generation(stored: Generation, unix: std::time::Duration, random16: u16) -> Generation {
    Generation(stored.0.saturating_add(1).max(clock_units(unix)).saturating_add(u64::from(random16)))
}

/// The span of the random part of a generation (`next_generation`).
const RANDOM_SPAN: u64 = 1 << 16;

/// How long a start must wait, after choosing `generation` when the wall
/// clock read `unix`, before its first datagram: until the clock part has
/// passed the generation, so that every later start chooses a higher one
/// even when the state file was never written or is lost (issue 30, item
/// 16: starts a few ms apart with an unwritable `state_dir` went back).
/// At most 2^16 + 1 units (62.5 ms). Zero when the clock has passed it, and
/// when the generation is ahead by more than the random part (a stored one
/// from before the clock was set back: only the state file keeps that
/// order, and waiting would not end).
pub(crate) fn clock_wait(generation: Generation, unix: std::time::Duration) -> std::time::Duration {
    let (generation, now) = (generation.0, clock_units(unix));
    if now > generation || generation - now > RANDOM_SPAN {
        return std::time::Duration::ZERO;
    }
    // One unit more, rounded up: the clock part is then above it.
    let nanos = ((u128::from(generation - now) + 1) * 1_000_000_000).div_ceil(1 << 20);
    std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A time in the units of a generation's clock part, 2^-20 s.
pub(crate) fn clock_units(d: std::time::Duration) -> u64 {
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
        let s = State {
            generation: Generation(77),
            peers: vec![Floor { sender: SenderId(0xdead_beef), generation: Generation(5), seq: Seq(9) }],
            ..State::default()
        };
        save(&d, &s, true).unwrap();
        assert_eq!(load(&d).unwrap(), s);
        // A routine save (no fsync) replaces it just as whole.
        let later = State {
            peers: vec![Floor { sender: SenderId(0xdead_beef), generation: Generation(5), seq: Seq(10) }],
            ..s
        };
        save(&d, &later, false).unwrap();
        assert_eq!(load(&d).unwrap(), later);
        assert!(!d.join("state.tmp").exists());
        fs::remove_dir_all(&d).unwrap();
    }

    /// Issue 16, item 4: "the peer speaks v1" survives a restart, and a
    /// file written before the flag existed still loads (without it).
    #[test]
    fn the_peer_speaking_v1_is_persisted() {
        let d = tmpdir("v1");
        let s = State {
            generation: Generation(9),
            peers: vec![Floor { sender: SenderId(1), generation: Generation(5), seq: Seq(9) }],
            peer_speaks_v1: true,
        };
        save(&d, &s, true).unwrap();
        assert!(fs::read_to_string(d.join("state")).unwrap().contains("\npeer-speaks-v1\n"));
        assert_eq!(load(&d).unwrap(), s);
        let old = "# ipfailoverd replay-defence state; do not edit\ngeneration 9\npeer 00000001 5 9\n";
        fs::write(d.join("state"), old).unwrap();
        let loaded = load(&d).unwrap();
        assert_eq!((loaded.generation, loaded.peers.len(), loaded.peer_speaks_v1), (Generation(9), 1, false));
        // Saved without the flag, the line goes.
        save(&d, &loaded, true).unwrap();
        assert_eq!(fs::read_to_string(d.join("state")).unwrap(), old);
        assert!(parse("peer-speaks-v1 yes\n").unwrap_err().contains("line 1"));
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

    fn chown(path: &Path, uid: u32) {
        std::os::unix::fs::lchown(path, Some(uid), None).unwrap();
    }

    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn untrusted_state_fails_closed() {
        if !crate::root_or_skip("untrusted_state_fails_closed") {
            return;
        }
        let d = tmpdir("distrust");
        let good = State {
            generation: Generation(77),
            peers: vec![Floor { sender: SenderId(1), generation: Generation(5), seq: Seq(9) }],
            ..State::default()
        };
        save(&d, &good, true).unwrap();
        let file = d.join("state");
        let refused = |needle: &str| {
            let e = load(&d).unwrap_err().to_string();
            assert!(e.contains(&file.display().to_string()) && e.contains(needle), "{needle}: {e}");
        };
        chmod(&file, 0o666);
        refused("mode 0666: others may write it");
        chmod(&file, 0o600);
        chown(&file, 65534);
        refused("owned by uid 65534");
        chown(&file, 0);
        chmod(&d, 0o777);
        refused("state_dir has mode 0777");
        chmod(&d, 0o700);
        assert_eq!(dir_advice(&d), None, "a good directory needs nothing");
        assert_eq!(load(&d).unwrap(), good);
        // A link to a good file is still a link.
        let elsewhere = tmpdir("distrust-target");
        save(&elsewhere, &good, true).unwrap();
        fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("state"), &file).unwrap();
        refused("is a symbolic link");
        fs::remove_file(&file).unwrap();
        fs::create_dir(&file).unwrap();
        refused("not a regular file");
        fs::remove_dir(&file).unwrap();
        fs::write(&file, "x".repeat(100_000)).unwrap();
        chmod(&file, 0o600);
        refused("larger than");
        fs::remove_dir_all(&d).unwrap();
        fs::remove_dir_all(&elsewhere).unwrap();
    }

    /// Issue 30, item 15: a state directory others may write is refused
    /// with the directory's mode as the fix, never "move the file away".
    #[test]
    fn a_directory_others_may_write_is_fixed_by_its_mode() {
        if !crate::root_or_skip("a_directory_others_may_write_is_fixed_by_its_mode") {
            return;
        }
        let d = tmpdir("dirmode");
        save(&d, &State { generation: Generation(5), ..State::default() }, true).unwrap();
        let shown = d.display().to_string();
        chmod(&d, 0o1777);
        assert!(load(&d).is_err());
        let advice = dir_advice(&d).unwrap();
        eprintln!("{advice}");
        assert!(advice.starts_with(&format!("{shown} has mode 1777")), "{advice}");
        assert!(advice.contains("set state_dir to a directory of its own"), "{advice}");
        assert!(!advice.contains("mv ") && !advice.contains("chmod"), "{advice}");
        chmod(&d, 0o770);
        let advice = dir_advice(&d).unwrap();
        assert!(
            advice.contains(&format!("has mode 0770: others may write it: chmod 0700 {shown}")),
            "{advice}"
        );
        chmod(&d, 0o700);
        chown(&d, 65534);
        let advice = dir_advice(&d).unwrap();
        assert!(advice.contains(&format!("chown root {shown}")), "{advice}");
        chown(&d, 0);
        assert_eq!(dir_advice(&d), None);
        assert_eq!(load(&d).unwrap().generation, Generation(5));
        assert_eq!(dir_advice(&d.join("missing")), None, "a missing directory is a fresh node");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn no_state_yet_is_a_fresh_node() {
        let d = tmpdir("fresh");
        assert_eq!(load(&d).unwrap(), State::default());
        fs::create_dir_all(&d).unwrap();
        assert_eq!(load(&d).unwrap(), State::default());
        // A file where the directory should be: nothing was ever saved.
        let blocked = d.join("blocked");
        fs::write(&blocked, "").unwrap();
        assert_eq!(load(&blocked.join("sub")).unwrap(), State::default());
        assert!(save(&blocked.join("sub"), &State::default(), true).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn save_never_writes_through_a_link() {
        let d = tmpdir("links");
        fs::create_dir_all(&d).unwrap();
        chmod(&d, 0o700);
        let victim = tmpdir("links-victim");
        fs::create_dir_all(&victim).unwrap();
        let target = victim.join("passwd");
        fs::write(&target, "root:x:0:0\n").unwrap();
        std::os::unix::fs::symlink(&target, d.join("state.tmp")).unwrap();
        std::os::unix::fs::symlink(&target, d.join("state")).unwrap();
        let s = State { generation: Generation(3), ..State::default() };
        save(&d, &s, true).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "root:x:0:0\n");
        assert!(!fs::symlink_metadata(d.join("state")).unwrap().file_type().is_symlink());
        assert_eq!(load(&d).unwrap(), s);
        // A state_dir that is a link is refused, for saving as for loading.
        let link = victim.join("dir-link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        assert!(save(&link, &s, true).unwrap_err().to_string().contains("symbolic link"));
        assert!(load(&link).unwrap_err().to_string().contains("symbolic link"));
        fs::remove_dir_all(&d).unwrap();
        fs::remove_dir_all(&victim).unwrap();
    }

    #[test]
    fn generation_never_goes_back() {
        use std::time::Duration;
        let secs = Duration::from_secs;
        // Clock far behind what was stored: stored + 1 wins.
        let g = next_generation(Generation(u64::MAX / 2), secs(10), 0);
        assert_eq!(g, Generation(u64::MAX / 2 + 1));
        // Fresh node: the clock decides.
        let fresh = Generation(0);
        assert_eq!(next_generation(fresh, secs(1000), 5), Generation(1000 * (1 << 20) + 5));
        assert_eq!(next_generation(fresh, Duration::from_millis(1500), 0), Generation(3 << 19));
        // Saturates instead of wrapping.
        assert_eq!(next_generation(Generation(u64::MAX), secs(u64::MAX), 7), Generation(u64::MAX));
        let a = next_generation(fresh, secs(1000), 0);
        assert!(next_generation(a, secs(1000), 0) > a);
    }

    #[test]
    fn quick_restarts_without_state_still_increase() {
        use std::time::Duration;
        // Worst case for the random part: high, then low, 63 ms later in
        // the same second.
        let first = next_generation(Generation(0), Duration::from_millis(1_000_100), u16::MAX);
        let second = next_generation(Generation(0), Duration::from_millis(1_000_163), 0);
        assert!(second > first, "{first} then {second}");
    }

    /// Issue 30, item 16: a start that waits `clock_wait` before it sends
    /// is below every later start's generation, state file or not, however
    /// soon the next start comes and whatever either drew.
    #[test]
    fn waiting_out_the_random_part_makes_any_later_start_higher() {
        use std::time::Duration;
        let mut longest = Duration::ZERO;
        for (i, r) in [u16::MAX, 0, 1, 40_000, u16::MAX - 1].into_iter().enumerate() {
            let t = Duration::from_nanos(1_765_000_000_123_456_789 + i as u64 * 7_919);
            let g = next_generation(Generation(0), t, r);
            let wait = clock_wait(g, t);
            longest = longest.max(wait);
            assert!(wait <= Duration::from_micros(62_600), "{wait:?}");
            // The very next start after the wait, drawing 0, with no state.
            assert!(next_generation(Generation(0), t + wait, 0) > g, "r {r}: waited {wait:?}");
            assert_eq!(clock_wait(g, t + wait), Duration::ZERO);
        }
        eprintln!("longest wait {longest:?}");
        // Already past, and a stored generation from a clock set back: no wait.
        let t = Duration::from_secs(1_765_000_000);
        assert_eq!(clock_wait(Generation(clock_units(t) - 1), t), Duration::ZERO);
        assert_eq!(clock_wait(Generation(clock_units(t) + RANDOM_SPAN + 1), t), Duration::ZERO);
    }
}
