//! Linux implementation of the `sys` modules.

pub(crate) mod addr;
pub(crate) mod addr6;
pub(crate) mod addrwatch;
pub(crate) mod clientwatch;
pub(crate) mod fs;
pub(crate) mod host;
pub(crate) mod linkwatch;
pub(crate) mod log;
pub(crate) mod nd;
pub(crate) mod net;
pub(crate) mod packet;
pub(crate) mod process;
pub(crate) mod random;
pub(crate) mod rtaddr;
pub(crate) mod signal;

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

/// Turns the C convention "-1 and errno" into `io::Result`.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `socket(2)` with SOCK_CLOEXEC, owned at once so no path leaks it.
fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket() takes plain integers and returns a new descriptor or -1.
    let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A C socket address the kernel reads through a pointer and a length.
/// Only the plain structs below: their size is the length to pass.
trait SockAddr {}
impl SockAddr for libc::sockaddr_in {}
impl SockAddr for libc::sockaddr_in6 {}
impl SockAddr for libc::sockaddr_ll {}
impl SockAddr for libc::sockaddr_nl {}

/// `bind(2)` to `addr`.
fn bind<A: SockAddr>(fd: &OwnedFd, addr: &A) -> io::Result<()> {
    // SAFETY: addr is a live socket address struct of exactly the size passed.
    cvt(unsafe {
        libc::bind(fd.as_raw_fd(), (addr as *const A).cast(), std::mem::size_of::<A>() as libc::socklen_t)
    })?;
    Ok(())
}

/// `sendto(2)` of `buf` to `addr`, as one datagram.
fn send_to<A: SockAddr>(fd: &OwnedFd, buf: &[u8], addr: &A) -> io::Result<()> {
    // SAFETY: buf is readable for its length, and addr is a live socket
    // address struct of exactly the size passed.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            0,
            (addr as *const A).cast(),
            std::mem::size_of::<A>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An `ifreq` with `ifr_name` set; names that do not fit are an error.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {name:?}")));
    }
    // SAFETY: ifreq is a plain C struct (arrays, integers, a union of such);
    // all-zero is a valid value for every field.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

/// `ioctl(2)` on a socket with an `ifreq` argument.
fn ioctl_ifreq(fd: &OwnedFd, request: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: every request passed here takes a `struct ifreq *`, which points
    // to a live, properly initialised ifreq for the duration of the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, req as *mut libc::ifreq) })?;
    Ok(())
}

/// A `sockaddr` holding an IPv4 address, as the address ioctls want it.
fn sockaddr_v4(addr: std::net::Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(addr).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size (16 bytes) on Linux
    // and sockaddr is the generic view of it the kernel expects.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// The IPv4 address inside a `sockaddr` known to be AF_INET.
fn v4_of(sa: &libc::sockaddr) -> std::net::Ipv4Addr {
    // SAFETY: same size, and the caller checked sa_family == AF_INET.
    let sin = unsafe { std::mem::transmute::<libc::sockaddr, libc::sockaddr_in>(*sa) };
    std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
}

/// `recv(2)` with MSG_DONTWAIT: the next datagram or message into `buf`,
/// or WouldBlock when there is none.
fn recv_now(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is writable for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Probes per address and probing window (RFC 5227 sends three; so does
/// the IPv6 probe).
const PROBES: u32 = 3;

/// When each probe's listening ends: `PROBES` rounds spread evenly over
/// `wait` from `start`, so a lost probe or answer costs one round, not
/// the verdict, and the whole probe still takes `wait`.
fn probe_rounds(start: Instant, wait: std::time::Duration) -> impl Iterator<Item = Instant> {
    (1..=PROBES).map(move |i| start + wait * i / PROBES)
}

/// Hands every datagram that arrives on `fd` before `end` to `take`
/// (`net::wait_readable`, then `recv_now`), until `take` says it has seen
/// enough by returning true.
fn recv_until(fd: &OwnedFd, end: Instant, mut take: impl FnMut(&[u8]) -> bool) -> io::Result<()> {
    let mut buf = [0u8; 1500];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        // Nothing ready: the time is up or the wait was interrupted; the
        // next turn tells which.
        if !net::wait_readable(Some(fd), None::<&OwnedFd>, left)?.first {
            continue;
        }
        if let Ok(n) = recv_now(fd, &mut buf) {
            if take(&buf[..n]) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn probes_are_spread_over_the_wait() {
        let t0 = Instant::now();
        let ends: Vec<Duration> = probe_rounds(t0, Duration::from_millis(300)).map(|t| t - t0).collect();
        assert_eq!(ends, [100, 200, 300].map(Duration::from_millis));
        // The last round ends when the whole wait does: it never grows.
        let ends: Vec<Instant> = probe_rounds(t0, Duration::from_millis(50)).collect();
        assert_eq!(ends.len(), 3);
        assert_eq!(*ends.last().unwrap() - t0, Duration::from_millis(50));
    }
}
