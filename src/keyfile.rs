//! The shared key file (`auth_key_file`): read once, through a descriptor
//! that is checked for owner and mode, into a buffer that is wiped when
//! dropped. The daemon's start and `ipfailoverd -n` (`preflight/`) read it
//! here; `config` only names the path.
#![forbid(unsafe_code)]

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
fn wipe(buf: &mut Vec<u8>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_rules() {
        if !crate::root_or_skip("key_file_rules") {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ipfo-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key");
        std::fs::write(&key, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(&*read_key_file(&key).unwrap(), b"0123456789abcdef0123");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_key_file(&key).unwrap_err();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
        std::fs::write(&key, "short").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_key_file(&key).unwrap_err().contains("at least 16"));
        assert!(read_key_file(&dir.join("missing")).is_err());
        assert!(read_key_file(&dir).unwrap_err().contains("not a regular file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The file read is the file checked: opened once, never through a link,
    /// checked on the open descriptor; and no copy of the key is left behind.
    #[test]
    fn key_file_is_opened_once_without_links() {
        if !crate::root_or_skip("key_file_is_opened_once_without_links") {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ipfo-key-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key");
        std::fs::write(&key, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&key, &link).unwrap();
        let e = read_key_file(&link).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        std::os::unix::fs::lchown(&key, Some(65534), None).unwrap();
        let e = read_key_file(&key).unwrap_err();
        assert!(e.contains("owned by uid 65534") && e.contains("chown root"), "{e}");
        std::os::unix::fs::lchown(&key, Some(0), None).unwrap();
        // A FIFO does not make -n wait for a writer.
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert!(read_key_file(&fifo).unwrap_err().contains("not a regular file"));
        std::fs::write(&key, vec![b'k'; 5000]).unwrap();
        assert!(read_key_file(&key).unwrap_err().contains("larger than 4096"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wiped_buffers_hold_zeros_only() {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(b"secret key material\n");
        buf.pop();
        let before = buf.as_ptr();
        wipe(&mut buf);
        assert_eq!(buf.as_ptr(), before, "wiping must not move the buffer");
        assert_eq!(buf.len(), buf.capacity());
        assert!(buf.iter().all(|b| *b == 0));
    }
}
