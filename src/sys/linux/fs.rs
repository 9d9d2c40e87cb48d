//! Opening files without being led astray: no symbolic link is followed
//! where the daemon reads a secret, writes its state or trusts a hook, and
//! directories are walked by descriptor so that what was checked is what
//! is used.
//!
//! Callers check what they opened with `File::metadata()`, which is
//! `fstat(2)` of the open descriptor, never a second look-up by path.

use std::ffi::{CString, OsStr};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `open(2)` for reading with O_NOFOLLOW (a symbolic link as the last
/// component fails with ELOOP), O_NONBLOCK (a FIFO cannot make us wait for
/// a writer; regular files ignore it) and O_CLOEXEC.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// `open(2)` with O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC and `mode`:
/// a file that we created just now and nobody else holds open, never an
/// existing file or the target of a symbolic link.
pub(crate) fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// `open(2)` with O_RDWR|O_CREAT|O_NOFOLLOW|O_CLOEXEC and `mode`, without
/// truncating: a file we may take over (a stale pidfile) but never through
/// a symbolic link.
pub(crate) fn open_or_create(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// `open(2)` of a directory: O_RDONLY|O_DIRECTORY|O_CLOEXEC. Symbolic
/// links on the way are followed: this is where a walk starts.
pub(crate) fn open_dir(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC).open(path)
}

/// `openat(2)` of the directory `name` inside `dir`, with
/// O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC. `name` is one component.
pub(crate) fn open_dir_at(dir: &File, name: &OsStr) -> io::Result<File> {
    openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
}

/// `openat(2)` of `name` inside `dir` with O_PATH|O_NOFOLLOW|O_CLOEXEC: a
/// descriptor that names the file (or the symbolic link itself) without
/// opening it, so a FIFO or a device has no say; `fstat(2)` and exec work
/// on it. `name` is one component.
pub(crate) fn open_path_at(dir: &File, name: &OsStr) -> io::Result<File> {
    openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
}

fn openat(dir: &File, name: &OsStr, flags: libc::c_int) -> io::Result<File> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a file name: {name:?}")));
    }
    let c =
        CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in file name"))?;
    // SAFETY: dir is an open descriptor and c a NUL-terminated string, both
    // alive for the call; no mode is needed without O_CREAT.
    let fd = super::cvt(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) })?;
    // SAFETY: fd was just returned by openat and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// The target of the symbolic link `link` names, read through its
/// descriptor (`open_path_at` gives one): `readlinkat(2)` with an empty
/// path. A target longer than PATH_MAX is an error (ENAMETOOLONG).
pub(crate) fn read_link(link: &File) -> io::Result<std::ffi::OsString> {
    use std::os::unix::ffi::OsStringExt;
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: link is an open descriptor, the empty path a NUL-terminated
    // string, and buf is writable for the length passed.
    let n = unsafe { libc::readlinkat(link.as_raw_fd(), c"".as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n >= buf.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf.truncate(n);
    Ok(std::ffi::OsString::from_vec(buf))
}

/// Whether `e` is the ELOOP of opening a symbolic link with O_NOFOLLOW.
pub(crate) fn is_link_refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Whether `e` says the path does not exist: ENOENT, or ENOTDIR (a file
/// stands where a directory should, so nothing can be below it).
pub(crate) fn is_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// Takes `flock(2)` LOCK_EX|LOCK_NB on `file` (a directory too): `Ok(true)`
/// when it is ours now, `Ok(false)` when another open file holds it (it is
/// released when that file is closed, also when its process dies).
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock takes a valid descriptor (borrowed for the call) and flags.
    match super::cvt(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Our effective user id: `geteuid(2)`.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ipfo-fs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn symbolic_links_are_refused() {
        let d = scratch("links");
        let target = d.join("target");
        std::fs::write(&target, "secret").unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let loops = |e: io::Error| e.raw_os_error() == Some(libc::ELOOP);
        assert!(loops(open_read(&link).unwrap_err()));
        assert!(loops(open_or_create(&link, 0o600).unwrap_err()));
        // O_EXCL never follows a link, whatever it points to.
        assert_eq!(create_new(&link, 0o600).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        let dangling = d.join("dangling");
        std::os::unix::fs::symlink(d.join("nowhere"), &dangling).unwrap();
        assert_eq!(create_new(&dangling, 0o600).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert!(!d.join("nowhere").exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "secret");
        let mut s = String::new();
        open_read(&target).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "secret");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_directory_is_locked_once() {
        let d = scratch("lock");
        let first = open_dir(&d).unwrap();
        assert!(try_lock(&first).unwrap());
        let second = open_dir(&d).unwrap();
        assert!(!try_lock(&second).unwrap(), "a second open file got the lock");
        drop(first);
        assert!(try_lock(&second).unwrap(), "the lock outlived its file");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn walking_by_descriptor() {
        let d = scratch("walk");
        std::fs::create_dir(d.join("sub")).unwrap();
        let mut f = create_new(&d.join("sub/file"), 0o640).unwrap();
        f.write_all(b"x").unwrap();
        std::os::unix::fs::symlink(d.join("sub"), d.join("linkdir")).unwrap();
        let top = open_dir(&d).unwrap();
        let sub = open_dir_at(&top, OsStr::new("sub")).unwrap();
        assert!(sub.metadata().unwrap().is_dir());
        assert!(open_dir_at(&top, OsStr::new("linkdir")).is_err());
        let file = open_path_at(&sub, OsStr::new("file")).unwrap();
        let meta = file.metadata().unwrap();
        assert!(meta.is_file());
        assert_eq!(std::os::unix::fs::MetadataExt::mode(&meta) & 0o777, 0o640);
        // O_PATH on a link names the link itself, and its target is read
        // through that descriptor.
        let link = open_path_at(&top, OsStr::new("linkdir")).unwrap();
        assert!(link.metadata().unwrap().file_type().is_symlink());
        assert_eq!(read_link(&link).unwrap(), d.join("sub").into_os_string());
        assert_eq!(read_link(&file).unwrap_err().raw_os_error(), Some(libc::ENOENT)); // not a link
        for bad in ["", ".", "..", "sub/file"] {
            assert_eq!(open_path_at(&top, OsStr::new(bad)).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
