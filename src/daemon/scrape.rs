//! metrics_listen: a small HTTP/1.1 server for Prometheus, on threads of
//! its own. It answers `GET /metrics` (and `HEAD`) with the latest sample
//! the monitor left on the shelf, rendered at the moment of the scrape;
//! it never calls into the monitor, so a scrape cannot delay a heartbeat
//! or a failover, and the monitor never waits for a scrape (it only tries
//! the shelf's lock, which a scrape holds for the moment of cloning an
//! `Arc`).
//!
//! Bounded like the control socket: at most `MAX_CONNECTIONS` clients at
//! once, a thread each; beyond that a client is accepted, told 503 and
//! closed at once, without a thread. A request head is at most `MAX_HEAD`
//! bytes and must arrive within `REQUEST_TIME` (a deadline for the whole
//! head, not per read: a client sending a byte a second is cut off too);
//! the answer must be taken within `WRITE_TIME`. One request per
//! connection (`Connection: close`).

use super::view::metrics::{self, Sample};
use crate::log;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

pub(super) const MAX_CONNECTIONS: usize = 16;
pub(super) const MAX_HEAD: usize = 8 * 1024;
pub(super) const REQUEST_TIME: Duration = Duration::from_secs(3);
pub(super) const WRITE_TIME: Duration = Duration::from_secs(3);
/// A client thread needs little: the head buffer and the rendered text
/// live on the heap.
const STACK: usize = 128 * 1024;
/// After a failed accept (out of descriptors, say), before the next.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// A one-slot shelf: the monitor puts its latest sample there, scrapes
/// take a reference to whatever is there. Beside it, what changes with
/// every datagram (`Live`), so that the monitor publishes a sample only
/// when something else changed (issue 32).
#[derive(Clone, Default)]
pub(super) struct Shelf {
    slot: Arc<Mutex<Option<Arc<Sample>>>>,
    pub(super) live: Arc<Live>,
}

/// Each network's datagram figures as the monitor last stored them: plain
/// atomic stores on every pass of its loop (no lock, no wake-up, no
/// sample), read at scrape time.
pub(super) struct Live {
    /// Instants are kept as nanoseconds after this one.
    base: Instant,
    /// The monitor stored figures at least once.
    stored: AtomicBool,
    nets: [NetLive; 2],
}

#[derive(Default)]
struct NetLive {
    accepted: AtomicU64,
    legacy: AtomicU64,
    /// Nanoseconds after `base` + 1 of the peer's latest datagram, 0 for
    /// never.
    heard: AtomicU64,
}

impl Default for Live {
    fn default() -> Live {
        Live { base: Instant::now(), stored: AtomicBool::new(false), nets: Default::default() }
    }
}

impl Live {
    /// The monitor's figures of network `index` (`NetId::index`).
    pub(super) fn store(&self, index: usize, accepted: u64, legacy: u64, heard: Option<Instant>) {
        let Some(n) = self.nets.get(index) else { return };
        n.accepted.store(accepted, Ordering::Relaxed);
        n.legacy.store(legacy, Ordering::Relaxed);
        let heard = heard.map_or(0, |t| {
            u64::try_from(t.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX - 1) + 1
        });
        n.heard.store(heard, Ordering::Relaxed);
        self.stored.store(true, Ordering::Release);
    }

    /// `sample` as of `now`: its ages carried forward (it is rebased to
    /// `now`), and each network's figures from the latest stored ones.
    pub(super) fn current(&self, sample: &Sample, now: Instant) -> Sample {
        let mut s = sample.clone();
        let later = now.saturating_duration_since(s.taken);
        s.taken = now;
        s.since += later;
        s.peer_generation_age = s.peer_generation_age.map(|age| age + later.as_secs_f64());
        let stored = self.stored.load(Ordering::Acquire);
        for (i, n) in s.networks.iter_mut().enumerate() {
            n.last_heard = n.last_heard.map(|age| age + later);
            let Some(live) = self.nets.get(i).filter(|_| stored) else { continue };
            n.accepted = live.accepted.load(Ordering::Relaxed);
            n.legacy = live.legacy.load(Ordering::Relaxed);
            n.last_heard = match live.heard.load(Ordering::Relaxed) {
                0 => None,
                t => Some(now.saturating_duration_since(self.base + Duration::from_nanos(t - 1))),
            };
        }
        s
    }
}

impl Shelf {
    /// Replaces the sample unless a scrape holds the lock right now (then
    /// false: the monitor tries again on its next round instead of waiting).
    pub(super) fn put(&self, sample: Arc<Sample>) -> bool {
        match self.slot.try_lock() {
            Ok(mut slot) => {
                *slot = Some(sample);
                true
            }
            Err(TryLockError::Poisoned(p)) => {
                *p.into_inner() = Some(sample);
                true
            }
            Err(TryLockError::WouldBlock) => false,
        }
    }

    fn get(&self) -> Option<Arc<Sample>> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Binds the listener (at start, before detaching, so that an address in
/// use or not on this host fails the start command).
pub(super) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Starts the acceptor thread.
pub(super) fn spawn(listener: TcpListener, shelf: Shelf) -> std::io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        let mut failing = super::throttle::Every::new(Duration::from_secs(60));
        loop {
            let stream = match listener.accept() {
                Ok((s, _)) => s,
                Err(e) => {
                    if let Some(more) = failing.due(Instant::now(), 1) {
                        log::warn!("metrics_listen: accept failed: {e} ({more} more since the last report)");
                    }
                    std::thread::sleep(ACCEPT_PAUSE);
                    continue;
                }
            };
            if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                busy(stream);
                continue;
            }
            active.fetch_add(1, Ordering::SeqCst);
            let (shelf, done) = (shelf.clone(), Leaving(active.clone()));
            let spawned = std::thread::Builder::new().name("metrics-client".into()).stack_size(STACK).spawn(
                move || {
                    serve(stream, &shelf);
                    drop(done);
                    // The sample and the body were a scrape's peak: freed,
                    // and given back, so that scraping does not grow the
                    // daemon's idle memory.
                    crate::sys::host::trim_heap();
                },
            );
            if spawned.is_err() {
                // The closure, its stream and its `Leaving` are dropped.
                log::warn!("metrics_listen: cannot start a client thread");
            }
        }
    })?;
    Ok(())
}

/// Counts a client thread out, however it ends.
struct Leaving(Arc<AtomicUsize>);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Too many clients: told so without blocking, and closed. What the
/// client sent already is read first (without waiting for more): closing
/// on unread bytes would reset the connection and lose the answer.
fn busy(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.read(&mut [0u8; 1024]);
    let _ = stream.write_all(&response(503, "Service Unavailable", &[], b"too many clients\n", false));
}

fn serve(mut stream: TcpStream, shelf: &Shelf) {
    let _ = stream.set_write_timeout(Some(WRITE_TIME));
    let answer = match read_head(&mut stream, Instant::now() + REQUEST_TIME) {
        Ok(head) => answer(route(&head), shelf),
        Err(Head::TooLarge) => {
            response(431, "Request Header Fields Too Large", &[], b"request head too large\n", false)
        }
        // Timed out or closed early: nobody to answer.
        Err(Head::Gone) => return,
    };
    let _ = stream.write_all(&answer);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

enum Head {
    TooLarge,
    Gone,
}

/// Reads up to the blank line that ends a request head, by `deadline`.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>, Head> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(Head::Gone);
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => return Err(Head::Gone),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(Head::Gone),
        };
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(Head::TooLarge);
        }
    }
}

/// Where the head ends: after `\r\n\r\n` (or a bare `\n\n`), if it has.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    crlf.into_iter().chain(lf).min().filter(|&end| end <= MAX_HEAD)
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// `GET /metrics`, or `HEAD` (`head_only`).
    Metrics {
        head_only: bool,
    },
    /// Another method on /metrics.
    MethodNotAllowed,
    NotFound,
    BadRequest,
    VersionNotSupported,
}

/// Reads the request line of a complete head (and checks that the header
/// lines look like headers). Never panics on any bytes.
pub(super) fn route(head: &[u8]) -> Route {
    let Ok(text) = std::str::from_utf8(head) else { return Route::BadRequest };
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let Some(request_line) = lines.next() else { return Route::BadRequest };
    if lines.take_while(|l| !l.is_empty()).any(|l| !is_header(l)) {
        return Route::BadRequest;
    }
    let [method, target, version] = request_line.split(' ').collect::<Vec<_>>()[..] else {
        return Route::BadRequest;
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Route::BadRequest;
    }
    match version.strip_prefix("HTTP/") {
        Some("1.0" | "1.1") => {}
        Some(v) if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !v.is_empty() => {
            return Route::VersionNotSupported
        }
        _ => return Route::BadRequest,
    }
    // Origin form (`/metrics?x`), or absolute form (`http://host/metrics`).
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Route::BadRequest;
    }
    match (path, method) {
        ("/metrics", "GET") => Route::Metrics { head_only: false },
        ("/metrics", "HEAD") => Route::Metrics { head_only: true },
        ("/metrics", _) => Route::MethodNotAllowed,
        _ => Route::NotFound,
    }
}

/// `Name: value`, the name a token.
fn is_header(line: &str) -> bool {
    match line.split_once(':') {
        Some((name, _)) => {
            !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        }
        None => false,
    }
}

fn answer(route: Route, shelf: &Shelf) -> Vec<u8> {
    match route {
        Route::Metrics { head_only } => match shelf.get() {
            Some(sample) => {
                let now = Instant::now();
                let mut sample = shelf.live.current(&sample, now);
                // The kernel's view at the scrape (one listing of each
                // family, mover/addrs.rs), not the monitor's: the monitor
                // never looks at the kernel for the metrics.
                let list: Vec<_> = sample.addresses.iter().map(|a| a.service.clone()).collect();
                let kernel = super::mover::addrs::Kernel::look(&list);
                for a in &mut sample.addresses {
                    // Unreadable counts as held, as in `status`.
                    a.held = kernel.has(&a.service).unwrap_or(true);
                }
                let body = metrics::render(&sample, now);
                response(200, "OK", &[("Content-Type", metrics::CONTENT_TYPE)], body.as_bytes(), head_only)
            }
            None => response(503, "Service Unavailable", &[], b"the daemon is starting\n", head_only),
        },
        Route::MethodNotAllowed => {
            response(405, "Method Not Allowed", &[("Allow", "GET, HEAD")], b"only GET and HEAD\n", false)
        }
        Route::NotFound => {
            response(404, "Not Found", &[], b"not found; the metrics are at /metrics\n", false)
        }
        Route::BadRequest => response(400, "Bad Request", &[], b"bad request\n", false),
        Route::VersionNotSupported => {
            response(505, "HTTP Version Not Supported", &[], b"HTTP/1.0 or HTTP/1.1 only\n", false)
        }
    }
}

/// A whole response; `head_only` leaves the body out (HEAD) but keeps its
/// length.
fn response(code: u16, reason: &str, headers: &[(&str, &str)], body: &[u8], head_only: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {code} {reason}\r\n");
    let plain = [("Content-Type", "text/plain; charset=utf-8")];
    let content_type = if headers.iter().any(|(k, _)| *k == "Content-Type") { &[][..] } else { &plain[..] };
    for (k, v) in headers.iter().chain(content_type) {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(body);
    }
    bytes
}

#[cfg(test)]
#[path = "scrape_tests.rs"]
mod tests;
