//! The control socket: a unix stream socket, mode 0600, root only (peer
//! credentials checked). One line in, one reply out. A connection thread
//! per client, at most `MAX_CLIENTS` at a time, each with a read timeout:
//! a client that connects and never sends costs one thread for a second
//! and never reaches the monitor. Beyond `MAX_CLIENTS` a client is told
//! `too many clients`, and our own client retries for a few seconds, so
//! that a burst of idle connections delays `ipfailoverd status` by at most
//! the read timeout instead of failing it.

pub(super) mod signals;

use super::post::Post;
use crate::engine::Command;
use crate::log;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

const MAX_CLIENTS: usize = 32;
const MAX_REQUEST: u64 = 256;
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// How long our client keeps retrying while the daemon has too many clients.
const BUSY_RETRY: Duration = Duration::from_secs(5);
/// The daemon's refusal beyond `MAX_CLIENTS`, as it goes over the socket.
const BUSY: &str = "too many clients; try again";
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How `status` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// The metrics of metrics_listen, for node_exporter's textfile collector.
    Prometheus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    Status(Format),
    Command(Command),
    /// Reload the configuration file, as SIGHUP does, and answer with the
    /// outcome: the rc scripts' `reload` fails when the daemon refuses.
    Reload,
}

/// Parses one request line. Never panics; anything unknown is an error
/// message for the client.
pub fn parse_request(line: &str) -> Result<Request, String> {
    match line.trim_end_matches(['\r', '\n']).split_ascii_whitespace().collect::<Vec<_>>()[..] {
        ["status"] => Ok(Request::Status(Format::Text)),
        ["status", "--json"] => Ok(Request::Status(Format::Json)),
        ["status", "--prometheus"] => Ok(Request::Status(Format::Prometheus)),
        ["takeover"] => Ok(Request::Command(Command::Takeover)),
        ["release"] => Ok(Request::Command(Command::Release)),
        ["reload"] => Ok(Request::Reload),
        _ => Err("unknown request (status [--json | --prometheus], takeover, release, reload)".to_string()),
    }
}

/// Removes a stale control socket left by an earlier run, and only that:
/// nothing there is fine; a symbolic link, another kind of file, or a
/// socket of another user is refused, not unlinked.
pub(super) fn remove_socket(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.to_string()),
        Ok(meta) => match not_our_socket(&meta) {
            Some(why) => Err(format!("{why}; not removing it")),
            None => std::fs::remove_file(path).map_err(|e| e.to_string()),
        },
    }
}

/// Why the file at the control socket's path is not our socket, if so.
fn not_our_socket(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Some("is a symbolic link".into());
    }
    if !kind.is_socket() {
        return Some("exists and is not a socket".into());
    }
    let uid = meta.uid();
    (uid != 0 && uid != crate::sys::fs::euid())
        .then(|| format!("is owned by uid {uid}, not by root or by us"))
}

/// Binds the socket, refusing to steal it from a running daemon. Called
/// before the daemon detaches, so that a second instance given the same
/// socket fails on the operator's terminal (and its rc script fails)
/// instead of in the log after a start that looked fine.
pub(super) fn bind(path: &Path) -> Result<UnixListener, String> {
    if UnixStream::connect(path).is_ok() {
        return Err(format!(
            "control socket {}: another ipfailoverd is listening on it; every instance on this host \
             needs its own control_socket (and pidfile, state_dir and port)",
            path.display()
        ));
    }
    let fail = |e: String| format!("control socket {}: {e}", path.display());
    remove_socket(path).map_err(fail)?;
    let listener = UnixListener::bind(path).map_err(|e| fail(e.to_string()))?;
    // bind(2) made it; it is still ours (nothing but a socket of ours is
    // ever chmod-ed, and never through a link).
    if let Some(why) = not_our_socket(&std::fs::symlink_metadata(path).map_err(|e| fail(e.to_string()))?) {
        return Err(fail(why));
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| fail(e.to_string()))?;
    Ok(listener)
}

/// A request on the control socket, and where its answer goes: what the
/// control thread tells the monitor (or the start, while it waits for an
/// interface, `absent.rs`).
#[derive(Debug)]
pub(super) struct Asked {
    pub request: Request,
    pub reply: Sender<Result<String, String>>,
}

/// Starts the acceptor thread on a socket from `bind`.
pub(super) fn spawn(listener: UnixListener, events: Post<Asked>) -> Result<(), String> {
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                if active.load(Ordering::SeqCst) >= MAX_CLIENTS {
                    let mut s = stream;
                    let _ = s.write_all(format!("error {BUSY}\n").as_bytes());
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                let (events, active) = (events.clone(), active.clone());
                let spawned = std::thread::Builder::new().name("control-client".into()).spawn(move || {
                    serve(stream, &events);
                    active.fetch_sub(1, Ordering::SeqCst);
                });
                if spawned.is_err() {
                    log::warn!("control socket: cannot start a client thread");
                }
            }
        })
        .map_err(|e| format!("cannot start the control thread: {e}"))?;
    Ok(())
}

fn serve(mut stream: UnixStream, events: &Post<Asked>) {
    let reply = answer(&stream, events);
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let text = match reply {
        Ok(body) => format!("ok\n{body}"),
        Err(e) => format!("error {e}\n"),
    };
    let _ = stream.write_all(text.as_bytes());
}

fn answer(stream: &UnixStream, events: &Post<Asked>) -> Result<String, String> {
    match crate::sys::process::peer_uid(stream) {
        Ok(0) => {}
        Ok(uid) => {
            return Err(format!("permission denied (uid {uid}; only root may use the control socket)"))
        }
        Err(e) => return Err(format!("cannot check credentials: {e}")),
    }
    stream.set_read_timeout(Some(READ_TIMEOUT)).map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream.take(MAX_REQUEST))
        .read_line(&mut line)
        .map_err(|e| format!("reading the request: {e}"))?;
    if !line.ends_with('\n') {
        return Err("request too long or not terminated by a newline".into());
    }
    let request = parse_request(&line)?;
    let (tx, rx) = mpsc::channel();
    events.send(Asked { request, reply: tx }).map_err(|_| "the daemon is stopping".to_string())?;
    rx.recv_timeout(ANSWER_TIMEOUT).map_err(|_| "no answer from the daemon".to_string())?
}

/// Why a request to the daemon failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ClientError {
    /// The daemon has `MAX_CLIENTS` clients already: worth another try.
    Busy,
    /// Anything else (no daemon, its refusal, a broken reply), for people.
    Failed(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Busy => f.write_str(BUSY),
            ClientError::Failed(why) => f.write_str(why),
        }
    }
}

/// The client side: sends `request` to the daemon behind `path`, again
/// while the daemon says it has too many clients (for `BUSY_RETRY`).
pub(crate) fn client(path: &Path, request: &str) -> Result<String, ClientError> {
    let until = std::time::Instant::now() + BUSY_RETRY;
    loop {
        match client_once(path, request) {
            Err(ClientError::Busy) if std::time::Instant::now() < until => {
                std::thread::sleep(Duration::from_millis(100))
            }
            other => return other,
        }
    }
}

fn client_once(path: &Path, request: &str) -> Result<String, ClientError> {
    let failed = ClientError::Failed;
    let mut s = UnixStream::connect(path).map_err(|e| {
        failed(format!("cannot connect to {}: {e} (is ipfailoverd running?)", path.display()))
    })?;
    s.set_read_timeout(Some(ANSWER_TIMEOUT + Duration::from_secs(2))).map_err(|e| failed(e.to_string()))?;
    // A daemon refusing us may close before reading our request.
    let _ = s.write_all(format!("{request}\n").as_bytes());
    let reply = read_reply(&mut s).map_err(|e| failed(format!("reading the reply: {e}")))?;
    parse_reply(&reply)
}

/// `ok\n<body>` or `error <why>\n`. The protocol carries the refusal as
/// text; it is turned into a `ClientError` here, once.
fn parse_reply(reply: &str) -> Result<String, ClientError> {
    if let Some(body) = reply.strip_prefix("ok\n") {
        return Ok(body.to_string());
    }
    match reply.strip_prefix("error ").unwrap_or(reply).trim_end() {
        BUSY => Err(ClientError::Busy),
        why => Err(ClientError::Failed(why.to_string())),
    }
}

/// Reads to the end. A daemon that closes without reading our request
/// makes the kernel report a reset after its reply: what came before the
/// reset is the reply.
fn read_reply(s: &mut UnixStream) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !bytes.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_stale_socket_of_ours_is_removed() {
        if !crate::root_or_skip("only_a_stale_socket_of_ours_is_removed") {
            return;
        }
        let d = std::env::temp_dir().join(format!("ipfo-ctl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let sock = d.join("ipfailoverd.sock");
        assert_eq!(remove_socket(&sock), Ok(()));
        let victim = d.join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, &sock).unwrap();
        assert!(remove_socket(&sock).unwrap_err().contains("symbolic link"));
        assert!(sock.symlink_metadata().is_ok() && victim.exists());
        std::fs::remove_file(&sock).unwrap();
        std::fs::write(&sock, "a file").unwrap();
        assert!(remove_socket(&sock).unwrap_err().contains("not a socket"));
        std::fs::remove_file(&sock).unwrap();
        let listener = UnixListener::bind(&sock).unwrap();
        std::os::unix::fs::lchown(&sock, Some(65534), None).unwrap();
        assert!(remove_socket(&sock).unwrap_err().contains("uid 65534"));
        std::os::unix::fs::lchown(&sock, Some(0), None).unwrap();
        drop(listener);
        assert_eq!(remove_socket(&sock), Ok(()));
        assert!(sock.symlink_metadata().is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn requests() {
        assert_eq!(parse_request("status\n"), Ok(Request::Status(Format::Text)));
        assert_eq!(parse_request("status --json\r\n"), Ok(Request::Status(Format::Json)));
        assert_eq!(parse_request("status --prometheus\n"), Ok(Request::Status(Format::Prometheus)));
        assert_eq!(parse_request("takeover\n"), Ok(Request::Command(Command::Takeover)));
        assert_eq!(parse_request("release\n"), Ok(Request::Command(Command::Release)));
        assert_eq!(parse_request("reload\n"), Ok(Request::Reload));
        for bad in [
            "",
            "\n",
            "status --yaml\n",
            "TAKEOVER\n",
            "release now\n",
            "\u{0}\n",
            "status status\n",
            "status --json --prometheus\n",
        ] {
            assert!(parse_request(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_reply_before_a_reset_is_the_reply() {
        let (mut client, mut daemon) = UnixStream::pair().unwrap();
        client.write_all(b"status\n").unwrap();
        daemon.write_all(format!("error {BUSY}\n").as_bytes()).unwrap();
        // Closed with our request unread: the kernel reports a reset.
        drop(daemon);
        assert_eq!(read_reply(&mut client).unwrap(), format!("error {BUSY}\n"));
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply("ok\nstate watching\n"), Ok("state watching\n".to_string()));
        assert_eq!(parse_reply(&format!("error {BUSY}\n")), Err(ClientError::Busy));
        assert_eq!(ClientError::Busy.to_string(), BUSY);
        let refused = parse_reply("error takeover refused: the primary is heard\n");
        assert_eq!(refused, Err(ClientError::Failed("takeover refused: the primary is heard".into())));
    }
}
