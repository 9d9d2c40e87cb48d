//! Starting the daemon: configuration, key, identity, threads, monitor.
//! Everything that can fail because of the operator's setup fails here,
//! before the first heartbeat, with a message saying what to fix.

use super::absent::Meanwhile;
use super::control::Asked;
use super::monitor::{or_failed, post, Event};
use super::monitor::{Identity, Io, Monitor};
use super::mover::addrs::Addresses;
use super::mover::announce::Announcer;
use super::mover::Mover;
use super::net::outbox::Outbox;
use super::net::Reader;
use crate::config::{self, Config, NetId};
use crate::crypto::hmac::Key;
use crate::log;
use crate::proto::{replay::Guard, store};
use crate::sys;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Room in the event channel: readers block (and the kernel drops) rather
/// than let a flood grow memory without bound. Datagrams wait in the inbox
/// with at most one `Heard` at a time here, so what remains is rare (links,
/// signals, moves, checks, control requests). std allocates the slots up
/// front and a ring touches them all in time: 1024 slots were 188 KiB of
/// resident memory.
const CHANNEL: usize = 64;

pub(crate) struct Options {
    /// Log to stderr instead of syslog (`-d`).
    pub log_stderr: bool,
    /// Detach from the terminal (not with `-d`, Apple's `-x`, or systemd).
    pub detach: bool,
}

/// Runs the daemon until it is told to stop. Returns the exit status.
pub(crate) fn run(cfg: Config, opts: &Options) -> i32 {
    match start(cfg, opts) {
        Ok(()) => 0,
        Err(msg) => {
            log::error!("{msg}");
            1
        }
    }
}

/// Opens the sockets before detaching, so that a port in use fails the
/// start command on the operator's terminal. A down interface is not
/// fatal: its reader keeps trying and reports the network silent; a missing
/// one is waited for before the start goes on (`absent.rs`).
fn bind_early(cfg: &Config) -> Result<[Option<std::net::UdpSocket>; 2], String> {
    let mut out = [None, None];
    let shared = super::net::shares_socket(cfg);
    if shared {
        // Our two sockets share the port (SO_REUSEPORT), which the kernel
        // would let a second root daemon join silently, splitting the
        // heartbeats between the two. A socket without it, bound first and
        // closed again, fails if anything holds the port there.
        let n = cfg.network(NetId::Public);
        match super::net::listen(n.interface.as_str(), cfg.port, n.dest, false) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(super::net::port_in_use(cfg.port, n.interface.as_str()))
            }
            _ => {}
        }
    }
    for net in NetId::ALL {
        let ifname = cfg.network(net).interface.as_str();
        match super::net::listen(ifname, cfg.port, cfg.network(net).dest, shared) {
            Ok(s) => out[net.index()] = Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(super::net::port_in_use(cfg.port, ifname))
            }
            // Said louder by the wait for it (`absent.rs`).
            Err(_) if !super::absent::exists(ifname) => {}
            Err(e) => log::warn!("{} network: cannot listen on {ifname} yet: {e}", net.as_str()),
        }
    }
    Ok(out)
}

fn start(cfg: Config, opts: &Options) -> Result<(), String> {
    log::set_ident(&cfg.ident());
    let key = preflight(&cfg)?;
    let mut pidfile = create_pidfile(&cfg)?;
    // Before detaching, so that a state file we cannot trust, or anything
    // another instance on this host already uses (state_dir, port,
    // control socket), stops the start command on the operator's terminal.
    let _state_lock = lock_state(&cfg)?;
    let stored = load_state(&cfg)?;
    let early = bind_early(&cfg)?;
    let control = super::control::bind(&cfg.control_socket)?;
    let metrics = bind_metrics(&cfg)?;
    if !opts.log_stderr {
        log::to_syslog(&cfg.ident(), &cfg.syslog_facility).map_err(|e| format!("cannot open syslog: {e}"))?;
    }
    // systemd (Type=notify) supervises a process that stays put.
    let mut detached = None;
    if opts.detach && !opts.log_stderr && !super::sdnotify::under_systemd() {
        super::absent::tell_terminal(&cfg);
        detached = Some(sys::process::daemonize().map_err(|e| format!("cannot detach: {e}"))?);
        log::detached();
        pidfile.refresh().map_err(|e| format!("pidfile {}: {e}", cfg.pidfile.display()))?;
    }
    // Before any thread exists, so that every thread inherits the mask and
    // only the signal thread ever sees a signal.
    sys::signal::block_daemon_signals().map_err(|e| format!("cannot block signals: {e}"))?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Event>(CHANNEL);
    super::control::spawn(control, post(&tx, Event::Control))?;
    super::control::signals::spawn(post(&tx, |s| or_failed(Event::Signal, s)))
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    if !wait_for_interfaces(&cfg, &tx, &rx)? {
        return Ok(());
    }
    // Only now may the start command return: the pidfile names us.
    if let Some(d) = detached {
        d.ready();
    }
    let floors = stored.peers.clone();
    let id = identity(&cfg, stored)?;
    warn_future_floors(&cfg, &floors, id.generation);
    let guard = Guard::new(cfg.role, id.sender, &floors).with_own_generation(id.generation);
    let io = workers(&cfg, &key, &id, &tx, early, metrics)?;
    let socket = cfg.control_socket.clone();
    let monitor = Monitor::new(cfg, key, id, guard, io, Instant::now());
    // What the start needed (the configuration's text, the checks, the
    // state file) is freed: give it back rather than keep it resident.
    sys::host::trim_heap();
    monitor.run(rx, tx);
    if let Err(e) = super::control::remove_socket(&socket) {
        log::warn!("control socket {}: {e}", socket.display());
    }
    drop(pidfile);
    Ok(())
}

/// What `-n` and a reload refuse because it cannot work (a service
/// address outside its subnet or one the host already has, a peer that is
/// this host) stops the start too, before anything is touched; then the
/// key, if there is one.
fn preflight(cfg: &Config) -> Result<Option<Arc<Key>>, String> {
    let refused = config::check_addresses(cfg, &crate::live_system::LiveSystem);
    if !refused.is_empty() {
        for e in &refused {
            log::error!("{e}");
        }
        return Err(format!("{}: {} error(s) above: not started", cfg.file, refused.len()));
    }
    let key = match &cfg.auth_key_file {
        Some(path) => Some(Arc::new(Key::new(&crate::keyfile::read_key_file(path)?))),
        None => {
            log::warn!(
                "no auth_key_file: heartbeats are not authenticated and anyone on either network can forge them"
            );
            None
        }
    };
    if key.is_some() && cfg.legacy_heartbeat.accepts() {
        log::warn!("{}", legacy_bypass_warning());
    }
    Ok(key)
}

fn create_pidfile(cfg: &Config) -> Result<sys::process::Pidfile, String> {
    sys::process::Pidfile::create(&cfg.pidfile).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "; a second instance on this host needs its own pidfile (and control_socket, state_dir and port)"
        } else {
            ""
        };
        format!("pidfile {}: {e}{hint}", cfg.pidfile.display())
    })
}

/// An interface that does not exist yet: wait for it, at most
/// interface_wait, before the start command returns or systemd hears
/// READY=1; then fail loudly (`absent.rs`). `Ok(false)`: stopped while
/// waiting. What else came meanwhile is queued again for the monitor.
fn wait_for_interfaces(
    cfg: &Config,
    tx: &std::sync::mpsc::SyncSender<Event>,
    rx: &std::sync::mpsc::Receiver<Event>,
) -> Result<bool, String> {
    let mut later = Vec::new();
    let next = |within| match rx.recv_timeout(within) {
        Ok(ev) => meanwhile(ev, &mut later),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Meanwhile::Nothing,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Meanwhile::Gone,
    };
    match super::absent::wait(cfg, next) {
        super::absent::Waited::Present => {}
        super::absent::Waited::Stopped => {
            let _ = super::control::remove_socket(&cfg.control_socket);
            return Ok(false);
        }
        super::absent::Waited::GaveUp(list) => {
            let why = super::absent::failure(cfg, &list);
            super::sdnotify::notify(&format!("STATUS=start failed: {why}"));
            mail_and_wait(cfg, rx, "start failed: an interface does not exist", &why);
            let _ = super::control::remove_socket(&cfg.control_socket);
            return Err(why);
        }
    }
    for e in later {
        let _ = tx.try_send(e);
    }
    Ok(true)
}

/// Starts the worker threads the monitor drives, and hands it their
/// channels. `early`: the sockets bound before detaching (`bind_early`);
/// `metrics`: the listener of metrics_listen, if any.
fn workers(
    cfg: &Config,
    key: &Option<Arc<Key>>,
    id: &Identity,
    tx: &std::sync::mpsc::SyncSender<Event>,
    early: [Option<std::net::UdpSocket>; 2],
    metrics: Option<(std::net::TcpListener, SocketAddr)>,
) -> Result<Io, String> {
    let inbox = std::sync::Arc::new(super::net::inbox::Inbox::default());
    let readers = readers(cfg, key, id, tx, &inbox, early)?;
    let out = NetId::ALL.map(|net| {
        let n = cfg.network(net);
        Outbox::new(net.as_str(), n.interface.as_str(), SocketAddr::new(n.dest, cfg.port))
    });
    let (mover, mail) = (mover(tx)?, super::mail::notifier(cfg, Some(post(tx, Event::Mailed)))?);
    let metrics = match metrics {
        Some((listener, addr)) => {
            let shelf = super::scrape::Shelf::default();
            super::scrape::spawn(listener, shelf.clone())
                .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
            log::info!("metrics at http://{addr}/metrics");
            Some(shelf)
        }
        None => None,
    };
    log_started(cfg, id);
    let saver = super::saver::Saver::spawn(cfg.state_dir.clone())
        .map_err(|e| format!("cannot start the state writer: {e}"))?;
    let checks = super::checks::Checks::spawn(cfg, post(tx, Event::Checks))
        .map_err(|e| format!("cannot start the service checks: {e}"))?;
    let addrwatch = addrwatch(cfg, tx);
    Ok(Io { out, mover, mail, readers, inbox, saver, checks, metrics, addrwatch })
}

/// The reader threads, one per network; returns the channels on which the
/// monitor tells each the interval after a reload.
fn readers(
    cfg: &Config,
    key: &Option<Arc<Key>>,
    id: &Identity,
    tx: &std::sync::mpsc::SyncSender<Event>,
    inbox: &Arc<super::net::inbox::Inbox>,
    mut early: [Option<std::net::UdpSocket>; 2],
) -> Result<[std::sync::mpsc::Sender<crate::engine::Timing>; 2], String> {
    let [(public_retime, public_rx), (private_retime, private_rx)] =
        NetId::ALL.map(|_| std::sync::mpsc::channel());
    for (net, retime) in NetId::ALL.into_iter().zip([public_rx, private_rx]) {
        let n = cfg.network(net);
        let reader = Reader {
            net,
            ifname: n.interface.as_str().to_string(),
            port: cfg.port,
            dest: n.dest,
            timing: crate::engine::Timing::from_config(cfg),
            retime,
            shared: super::net::shares_socket(cfg),
            key: key.clone(),
            peer: cfg.peer,
            legacy: cfg.legacy_heartbeat,
            legacy_message: cfg.legacy_message.clone(),
            pair: id.pair_id,
            own: (id.sender, cfg.role, id.generation),
            tx: post(tx, Event::Reader),
            inbox: std::sync::Arc::clone(inbox),
            initial: early[net.index()].take(),
        };
        reader.spawn().map_err(|e| format!("cannot start the {} reader: {e}", net.as_str()))?;
    }
    Ok([public_retime, private_retime])
}

/// The line that says the daemon runs, and who it is.
fn log_started(cfg: &Config, id: &Identity) {
    log::notice!(
        "started as {} (sender id {:08x}, generation {}), {}, interval {}, dead_after {}",
        cfg.role.as_str(),
        id.sender,
        id.generation,
        pair_words(id),
        crate::timefmt::secs(cfg.interval),
        crate::timefmt::secs(cfg.dead_after)
    );
    if id.pair.is_none() {
        log::warn!(
            "the pair is unnamed (no pair line and no service address to derive a name from): datagrams \
             of another pair on the same network cannot be told apart; set the same pair = NAME on both nodes"
        );
    }
}

/// The metrics listener (metrics_listen), bound before detaching so that
/// an address in use or not on this host fails the start command, named
/// by its line like any other configuration error.
fn bind_metrics(cfg: &Config) -> Result<Option<(std::net::TcpListener, SocketAddr)>, String> {
    let Some(addr) = cfg.metrics_listen else { return Ok(None) };
    match super::scrape::bind(addr) {
        Ok(listener) => Ok(Some((listener, addr))),
        Err(e) => {
            let place = match cfg.line_of("metrics_listen") {
                0 => cfg.file.clone(),
                line => format!("{}:{line}", cfg.file),
            };
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => " (another program listens there: ss -ltnp)",
                std::io::ErrorKind::AddrNotAvailable => " (no interface of this host has that address)",
                _ => "",
            };
            Err(format!("{place}: metrics_listen {addr}: cannot listen: {e}{hint}"))
        }
    }
}

/// Said at start and by `-n` when Apple's text is accepted beside a key
/// (`legacy_heartbeat = yes-unauthenticated`).
pub(crate) fn legacy_bypass_warning() -> String {
    "legacy_heartbeat = yes-unauthenticated: Apple's heartbeat text bypasses the MAC of auth_key_file; \
     anyone who can send from peer on the private network or from a service address on the public \
     one can forge it, until the primary is heard speaking protocol v1 with the key (from then on \
     the text is ignored, also after a restart)"
        .to_string()
}

/// `pair web (id ...)`, `pair auto-... (id ..., derived from the service
/// addresses and the port)` or `pair unnamed`, for the log and status.
pub(super) fn pair_words(id: &Identity) -> String {
    match &id.pair {
        Some(p) if p.derived => format!(
            "pair {} (id {}, derived from the service addresses and the port at start)",
            p.name,
            crate::proto::pair::hex(id.pair_id)
        ),
        Some(p) => format!("pair {} (id {})", p.name, crate::proto::pair::hex(id.pair_id)),
        None => "pair unnamed (id 0)".to_string(),
    }
}

/// The mover (with the announcer under its `Addresses`): one for the
/// daemon's whole life; every job carries the settings it needs.
/// The address watch thread (`addrwatch.rs`), and the channel a reload
/// sends it the new list on. Without it the daemon still runs: it looks at
/// the kernel at start and after a reload only, and says so.
fn addrwatch(
    cfg: &Config,
    tx: &std::sync::mpsc::SyncSender<Event>,
) -> Option<std::sync::mpsc::Sender<Vec<std::net::IpAddr>>> {
    let events = match sys::addrwatch::AddrEvents::open() {
        Ok(ev) => ev,
        Err(e) => {
            log::warn!(
                "cannot watch addresses through netlink ({e}): a service address removed by someone else is not noticed"
            );
            return None;
        }
    };
    let (relist, rx) = std::sync::mpsc::channel();
    let watched = cfg.addresses.iter().map(|a| a.addr).collect();
    let watch = super::addrwatch::AddrWatch { events, watched, relist: rx, unread: Default::default() };
    match watch.spawn(post(tx, |l| or_failed(Event::Addresses, l))) {
        Ok(()) => Some(relist),
        Err(e) => {
            log::warn!("cannot start the address watch thread ({e}): a service address removed by someone else is not noticed");
            None
        }
    }
}

fn mover(
    tx: &std::sync::mpsc::SyncSender<Event>,
) -> Result<std::sync::mpsc::Sender<super::mover::Job>, String> {
    let announcer = Announcer.spawn().map_err(|e| format!("cannot start the announcer: {e}"))?;
    Mover { addrs: Addresses::new(announcer), confirmed: post(tx, Event::Confirmed) }
        .spawn(post(tx, Event::Moved))
        .map_err(|e| format!("cannot start the mover: {e}"))
}

/// One mail before the daemon ends without running: handed to sendmail
/// and waited for (at most `mail_timeout` and a second), so that the
/// process does not end under it.
fn mail_and_wait(cfg: &Config, rx: &std::sync::mpsc::Receiver<Event>, subject: &str, details: &str) {
    let (tx, mailed) = std::sync::mpsc::sync_channel(1);
    // The notifier holds the only sender: when it ends, the wait does.
    let told = post(&tx, Event::Mailed);
    drop(tx);
    let sent = super::mail::notifier(cfg, Some(told)).and_then(|mail| {
        mail.send(super::mail::bodies::text_mail(subject.to_string(), format!("{details}.")))
            .map_err(|_| "the notifier ended".to_string())
    });
    if let Err(e) = sent {
        log::error!("mail \"{subject}\": {e}");
        return;
    }
    let end = Instant::now() + cfg.mail_timeout + std::time::Duration::from_secs(1);
    while Instant::now() < end {
        if matches!(mailed.recv_timeout(std::time::Duration::from_millis(50)), Ok(Event::Mailed(_))) {
            return;
        }
        // Requests that come meanwhile get an answer, not a timeout.
        if let Ok(Event::Control(Asked { reply, .. })) = rx.try_recv() {
            let _ = reply.send(Err(details.to_string()));
        }
    }
}

/// What the wait for an absent interface makes of an event (`absent.rs`):
/// a control request and SIGTERM or SIGINT are for it; anything else is
/// kept in `later` for the monitor.
fn meanwhile(ev: Event, later: &mut Vec<Event>) -> Meanwhile {
    match ev {
        Event::Control(asked) => Meanwhile::Asked(asked),
        Event::Signal(crate::sys::signal::Signal::Term | crate::sys::signal::Signal::Int) => Meanwhile::Stop,
        other => {
            later.push(other);
            Meanwhile::Nothing
        }
    }
}

/// Holds `state_dir` for the daemon's life (see `store::lock`). A
/// directory that cannot be created or opened is no reason to refuse: no
/// state can be written there either, by us or by another instance, and
/// the daemon already runs on without it, saying so once per failed save
/// (`identity`, `saver.rs`).
fn lock_state(cfg: &Config) -> Result<Option<std::fs::File>, String> {
    match store::lock(&cfg.state_dir) {
        Ok(Some(lock)) => Ok(Some(lock)),
        Ok(None) => Err(format!(
            "state_dir {} is in use by another running ipfailoverd; every instance on this host \
             needs its own state_dir (and pidfile, control_socket and port)",
            cfg.state_dir.display()
        )),
        Err(_) => Ok(None),
    }
}

/// The replay state of earlier runs, or why the daemon must not start:
/// an empty state in place of one it cannot read would accept recorded
/// datagrams of old generations again (fail closed). The recovery command
/// is in ipfailoverd(8), REPLAY STATE.
fn load_state(cfg: &Config) -> Result<store::State, String> {
    store::load(&cfg.state_dir).map_err(|e| {
        // The directory is the fault: moving the file would not help.
        if let Some(fix) = store::dir_advice(&cfg.state_dir) {
            return format!("replay state {e}; not starting: {fix}");
        }
        let file = store::file_of(&cfg.state_dir);
        format!(
            "replay state {e}; not starting: without it, recorded datagrams would be accepted again. \
             If nobody but root can have written {dir} (check its owner and mode), move the file away \
             and start again: mv {file} {file}.bad",
            dir = cfg.state_dir.display(),
            file = file.display(),
        )
    })
}

/// A saved floor from the future (accepted by a version without the
/// future-generation check, or while this host's clock was wrong) mutes
/// that peer: every real datagram is older. It is kept (fail closed), and
/// the operator is told how to clear it.
fn warn_future_floors(cfg: &Config, floors: &[crate::proto::replay::Floor], own: crate::proto::Generation) {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let now = store::clock_units(unix).max(own.0);
    for f in floors.iter().filter(|f| f.generation.0 > now.saturating_add(crate::proto::replay::FUTURE_BOUND))
    {
        let days = (f.generation.0 - now) / crate::proto::replay::FUTURE_BOUND;
        log::error!(
            "replay state {file}: sender {:08x} has generation {}, {days} days ahead of this host's clock: \
             its real datagrams are refused as old-generation. If the clock is right, stop the daemon and \
             move the file away: mv {file} {file}.bad",
            f.sender,
            f.generation,
            file = store::file_of(&cfg.state_dir).display()
        );
    }
}

/// Our sender id: the first 4 bytes of SHA-256 over the host name and the
/// public interface's hardware address (docs/protocol.md). The host name
/// alone is often the same on two servers (clones, `localhost`), and two
/// nodes of one role with one id would take each other's datagrams for
/// their own old ones; the address tells them apart on any LAN. Without
/// it (the interface is not there yet) the host name alone.
fn sender_id(cfg: &Config) -> crate::proto::SenderId {
    let mut seed = sys::host::hostname().unwrap_or_else(|_| "localhost".into()).into_bytes();
    if let Ok(mac) = sys::net::hw_addr(cfg.network(crate::config::NetId::Public).interface.as_str()) {
        seed.push(0);
        seed.extend_from_slice(&mac);
    }
    let digest = crate::crypto::sha256::digest(&seed);
    crate::proto::SenderId(u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]).max(1))
}

/// Our sender id, our pair, and a generation no earlier start of ours ever
/// used, recorded in the state file before the first datagram leaves.
fn identity(cfg: &Config, stored: store::State) -> Result<Identity, String> {
    let sender = sender_id(cfg);
    let mut state = stored;
    let mut r = [0u8; 2];
    sys::random::fill(&mut r).map_err(|e| format!("getrandom: {e}"))?;
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    state.generation = store::next_generation(state.generation, unix, u16::from_be_bytes(r));
    if let Err(e) = store::save(&cfg.state_dir, &state, true) {
        log::error!(
            "cannot record generation {} in {}: {e}; a restart with the wall clock set back could reuse an old generation and be ignored by the peer",
            state.generation,
            cfg.state_dir.display()
        );
    }
    // Before the first datagram: the wall clock must pass the generation,
    // so that a later start is higher even without the state file.
    let t0 = Instant::now();
    loop {
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        match store::clock_wait(state.generation, unix) {
            w if w.is_zero() => break,
            w => std::thread::sleep(w),
        }
    }
    log::debug!("generation {}: waited {:?} for the clock to pass it", state.generation, t0.elapsed());
    let pair = cfg.pair_name();
    let pair_id = pair.as_ref().map_or(crate::proto::pair::UNNAMED, |p| crate::proto::pair::id(&p.name));
    Ok(Identity {
        sender,
        generation: state.generation,
        state_dir: cfg.state_dir.clone(),
        peer_speaks_v1: state.peer_speaks_v1,
        pair,
        pair_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::control::{Format, Request};
    use crate::sys::signal::Signal;

    /// Issue 30, item 5: while the start waits for a missing interface it
    /// answers control requests and stops on SIGTERM or SIGINT; anything
    /// else (a SIGHUP) waits for the monitor, in order.
    #[test]
    fn the_wait_for_an_interface_keeps_the_rest_for_the_monitor() {
        let mut later = Vec::new();
        let (reply, _answer) = std::sync::mpsc::channel();
        let asked = Event::Control(Asked { request: Request::Status(Format::Text), reply });
        assert!(matches!(meanwhile(asked, &mut later), Meanwhile::Asked(_)));
        assert!(matches!(meanwhile(Event::Signal(Signal::Hup), &mut later), Meanwhile::Nothing));
        assert!(matches!(meanwhile(Event::Signal(Signal::Term), &mut later), Meanwhile::Stop));
        assert!(matches!(meanwhile(Event::Signal(Signal::Int), &mut later), Meanwhile::Stop));
        assert!(matches!(later[..], [Event::Signal(Signal::Hup)]), "{later:?}");
    }
}
