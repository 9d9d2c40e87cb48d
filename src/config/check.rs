//! `ipfailoverd -n`: the configuration against the running system.

use super::{Config, ConfigError};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Key files shorter than this are refused: a guessable key is no key.
const MIN_KEY: usize = 16;
/// Key files longer than this are refused: no key needs more, and the
/// buffer is allocated once at this size so that reading never moves key
/// bytes around the heap.
const MAX_KEY_FILE: usize = 4096;

/// The bytes of the shared key, overwritten with zeros when dropped: once
/// `Key::new` has absorbed them, no copy of the key file stays in memory.
pub(crate) struct KeyBytes(Vec<u8>);

impl std::ops::Deref for KeyBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Never shows the key, like `crypto::hmac::Key`.
impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyBytes({} bytes)", self.0.len())
    }
}

impl Drop for KeyBytes {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Zeros every byte the buffer holds or held (its whole capacity, which
/// it fills without reallocating). `black_box` keeps the compiler from
/// dropping the writes as dead stores before the buffer is freed.
pub(super) fn wipe(buf: &mut Vec<u8>) {
    buf.resize(buf.capacity(), 0);
    buf.fill(0);
    std::hint::black_box(buf.as_slice());
}

/// Reads the shared key after checking that only root can read or change
/// it. The file is opened once, without following a symbolic link
/// (`sys::fs::open_read`), and the checks look at the open descriptor
/// (`fstat`), so the file read is the file checked. One trailing newline
/// is not part of the key.
pub(crate) fn read_key_file(path: &Path) -> Result<KeyBytes, String> {
    let p = path.display();
    let mut file = crate::sys::fs::open_read(path).map_err(|e| {
        if crate::sys::fs::is_link_refused(&e) {
            format!("auth_key_file {p}: is a symbolic link; set auth_key_file to the file itself")
        } else {
            format!("auth_key_file {p}: {e}")
        }
    })?;
    let meta = file.metadata().map_err(|e| format!("auth_key_file {p}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("auth_key_file {p}: not a regular file"));
    }
    if meta.uid() != 0 {
        return Err(format!(
            "auth_key_file {p}: owned by uid {}, must be owned by root; run chown root {p}",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "auth_key_file {p}: mode {mode:04o} lets others read or change it; run chmod 600 {p}"
        ));
    }
    let mut key = KeyBytes(Vec::with_capacity(MAX_KEY_FILE + 1));
    (&mut file)
        .take(MAX_KEY_FILE as u64 + 1)
        .read_to_end(&mut key.0)
        .map_err(|e| format!("auth_key_file {p}: {e}"))?;
    if key.0.len() > MAX_KEY_FILE {
        return Err(format!("auth_key_file {p}: larger than {MAX_KEY_FILE} bytes, not a key file"));
    }
    if key.0.last() == Some(&b'\n') {
        key.0.pop();
    }
    if key.0.len() < MIN_KEY {
        return Err(format!("auth_key_file {p}: the key has {} bytes, at least {MIN_KEY} are needed (generate one with: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {p})", key.0.len()));
    }
    Ok(key)
}

/// Says so, and for Apple's names (`en0`, `en1`, `fw0`, `bond0` is not
/// one), how to find the Linux name.
fn missing_interface(name: &str) -> String {
    let apple = ["en", "fw"].iter().any(|p| name.strip_prefix(p).is_some_and(|n| n.parse::<u8>().is_ok()));
    if apple {
        format!(
            "interface {name} does not exist on this host: {name} is a Mac OS X name; \
             replace it with this server's interface (see `ip -br link`, e.g. eth0)"
        )
    } else {
        format!(
            "interface {name} does not exist on this host: correct the name (see `ip -br link`); the \
             daemon waits interface_wait for it at start, then fails"
        )
    }
}

/// Every problem between the configuration and this system.
pub(crate) fn check_system(cfg: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let mut err =
        |line: usize, message: String| out.push(ConfigError { file: cfg.file.clone(), line, message });
    let mut seen = Vec::new();
    for n in &cfg.networks {
        seen.push(n.interface.as_str().to_string());
        if !Path::new("/sys/class/net").join(n.interface.as_str()).exists() {
            err(cfg.line_of_network(n.id), missing_interface(n.interface.as_str()));
        }
    }
    for (i, a) in cfg.addresses.iter().enumerate() {
        if !seen.contains(&a.interface.as_str().to_string())
            && !Path::new("/sys/class/net").join(a.interface.as_str()).exists()
        {
            err(cfg.line_of_address(i), missing_interface(a.interface.as_str()));
        }
    }
    if let Some(key) = &cfg.auth_key_file {
        if let Err(e) = read_key_file(key) {
            err(cfg.line_of("auth_key_file"), e);
        }
    }
    for (line, message) in super::checks::check_programs(cfg) {
        err(line, message);
    }
    let scripts = &cfg.scripts_dir;
    if scripts.exists() && std::fs::read_dir(scripts).is_err() {
        err(
            cfg.line_of("scripts_dir"),
            format!("scripts_dir {} is not a readable directory", scripts.display()),
        );
    }
    if !cfg.sendmail.exists() {
        err(
            cfg.line_of("sendmail"),
            format!(
                "sendmail {} does not exist: mail cannot be sent (install an MTA or set sendmail)",
                cfg.sendmail.display()
            ),
        );
    }
    if let Some(parent) = cfg.state_dir.parent() {
        if !parent.is_dir() {
            err(
                cfg.line_of("state_dir"),
                format!("state_dir {}: its parent directory does not exist", cfg.state_dir.display()),
            );
        }
    }
    // The start refuses such a directory (`proto/store.rs`); its mode or
    // owner is the fix.
    if let Some(fix) = crate::proto::store::dir_advice(&cfg.state_dir) {
        err(cfg.line_of("state_dir"), format!("state_dir {fix}"));
    }
    out
}
