//! Test and benchmark helper, run inside the test namespaces:
//!
//!   netool respond NAME PORT            answer every UDP datagram with NAME
//!   netool probe ADDR:PORT EVERY_MS FOR_MS
//!                                       ask every EVERY_MS who answers; print
//!                                       one line per change of answerer:
//!                                       `<ms since start> <name|none>` and a
//!                                       final `summary` line
//!   netool capture PORT COUNT TIMEOUT_MS  print received datagrams as hex
//!   netool send ADDR:PORT HEX...        send each HEX as one datagram
//!                                       (broadcast allowed)
//!   netool beat EVERY_MS TEXT PORT FROM>TO...
//!                                       Apple's heartbeatd: send TEXT every
//!                                       EVERY_MS from address FROM to TO:PORT,
//!                                       for each pair
//!   netool flood ADDR:PORT[,ADDR:PORT...] SECONDS
//!                                       send random datagrams (1 to 200
//!                                       bytes, broadcast allowed) as fast as
//!                                       one thread can, round-robin over the
//!                                       targets; print `sent=N rate=R/s`
//!   netool http ADDR:PORT PATH [METHOD]  one HTTP/1.1 request (GET by
//!                                       default); print the whole response
//!   netool hold ADDR:PORT COUNT SECONDS  a hostile HTTP client: keep COUNT
//!                                       idle connections open (opening a
//!                                       new one for each the server closes)
//!                                       and send garbage requests on fresh
//!                                       connections meanwhile; print `open=N`
//!                                       once they are open, then a summary
//!   netool testbed up NAME              build the testbed NAME (namespaces
//!                                       NAMEw, NAMEp, NAMEs, NAMEc) as
//!                                       tests/support/testbed.rs defines it;
//!                                       exit 3, touching nothing, if one of
//!                                       them exists (it is not ours)
//!   netool testbed down NAME            delete testbed NAME's namespaces
//!
//! Only std: it is a development tool, not part of the daemon.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

// The one definition of the testbed, also built into the scenario tests.
#[path = "../tests/support/testbed.rs"]
mod testbed;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match a.as_slice() {
        ["respond", name, port] => respond(name, port.parse().expect("port")),
        ["probe", addr, every, dur] => probe(
            addr.parse().expect("addr:port"),
            Duration::from_millis(every.parse().expect("every")),
            Duration::from_millis(dur.parse().expect("for")),
        ),
        ["capture", port, count, timeout] => capture(
            port.parse().expect("port"),
            count.parse().expect("count"),
            Duration::from_millis(timeout.parse().expect("timeout")),
        ),
        ["send", addr, hex @ ..] => send(addr.parse().expect("addr:port"), hex),
        ["beat", every, text, port, pairs @ ..] => beat(
            Duration::from_millis(every.parse().expect("every")),
            text,
            port.parse().expect("port"),
            pairs,
        ),
        ["flood", targets, secs] => flood(
            &targets.split(',').map(|t| t.parse().expect("addr:port")).collect::<Vec<_>>(),
            Duration::from_secs_f64(secs.parse().expect("seconds")),
        ),
        ["http", addr, path] => http(addr.parse().expect("addr:port"), path, "GET"),
        ["http", addr, path, method] => http(addr.parse().expect("addr:port"), path, method),
        ["hold", addr, count, secs] => hold(
            addr.parse().expect("addr:port"),
            count.parse().expect("count"),
            Duration::from_secs_f64(secs.parse().expect("seconds")),
        ),
        ["testbed", "up", name] => testbed_up(name),
        ["testbed", "down", name] => testbed::down(name),
        _ => {
            eprintln!("usage: see the top of examples/netool.rs");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("netool: {e}");
        std::process::exit(1);
    }
}

/// Exit 3 when a name is taken: the caller must not delete namespaces
/// that are not its own (scripts/lib/testbed.sh, scripts/bench).
fn testbed_up(name: &str) -> std::io::Result<()> {
    match testbed::up(name) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("netool: testbed {name}: {e}");
            std::process::exit(3);
        }
        built => built,
    }
}

fn respond(name: &str, port: u16) -> std::io::Result<()> {
    // Dual-stack: IPv4 and IPv6 clients alike.
    let sock = UdpSocket::bind(("::", port))?;
    let mut buf = [0u8; 512];
    loop {
        let (_, src) = sock.recv_from(&mut buf)?;
        let _ = sock.send_to(name.as_bytes(), src);
    }
}

fn probe(addr: SocketAddr, every: Duration, total: Duration) -> std::io::Result<()> {
    let any: std::net::IpAddr = if addr.is_ipv4() { [0, 0, 0, 0].into() } else { [0u16; 8].into() };
    let sock = UdpSocket::bind((any, 0))?;
    sock.set_read_timeout(Some(Duration::from_millis(1)))?;
    let start = Instant::now();
    let mut current = String::new();
    let mut buf = [0u8; 512];
    let (mut sent, mut answered) = (0u64, 0u64);
    let mut last_answer = start;
    let mut longest_gap = Duration::ZERO;
    let mut next = start;
    while start.elapsed() < total {
        // Send errors (no route while an address moves) are unanswered probes.
        let _ = sock.send_to(&sent.to_be_bytes(), addr);
        sent += 1;
        next += every;
        let mut who = String::from("none");
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    who = String::from_utf8_lossy(&buf[..n]).into_owned();
                }
                Err(_) => {
                    if Instant::now() >= next {
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        if who != "none" {
            answered += 1;
            longest_gap = longest_gap.max(now.duration_since(last_answer));
            last_answer = now;
        }
        if who != current {
            println!("{} {who}", now.duration_since(start).as_millis());
            current = who;
        }
    }
    println!("summary sent={sent} answered={answered} longest_gap_ms={}", longest_gap.as_millis());
    Ok(())
}

fn capture(port: u16, count: usize, timeout: Duration) -> std::io::Result<()> {
    let sock = UdpSocket::bind(("0.0.0.0", port))?;
    sock.set_read_timeout(Some(timeout))?;
    let mut buf = [0u8; 2048];
    for _ in 0..count {
        let (n, src) = sock.recv_from(&mut buf)?;
        let hex: String = buf[..n].iter().map(|b| format!("{b:02x}")).collect();
        println!("{src} {hex}");
    }
    Ok(())
}

fn send(addr: SocketAddr, hex: &[&str]) -> std::io::Result<()> {
    let sock = UdpSocket::bind(("0.0.0.0", 0))?;
    sock.set_broadcast(true)?;
    for h in hex {
        let bytes: Vec<u8> =
            (0..h.len() / 2).map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).expect("hex")).collect();
        sock.send_to(&bytes, addr)?;
    }
    Ok(())
}

/// An emulation of Mac OS X Server's heartbeatd: the text, unauthenticated,
/// from each FROM address (Apple's primary sends from its own public and
/// private addresses) to each TO address.
fn beat(every: Duration, text: &str, port: u16, pairs: &[&str]) -> std::io::Result<()> {
    let mut socks = Vec::new();
    for pair in pairs {
        let (from, to) = pair.split_once('>').expect("FROM>TO");
        let sock = UdpSocket::bind((from.parse::<std::net::IpAddr>().expect("FROM"), 0))?;
        sock.set_broadcast(true)?;
        socks.push((sock, SocketAddr::new(to.parse().expect("TO"), port)));
    }
    loop {
        for (sock, to) in &socks {
            // An unreachable network is just a lost heartbeat.
            let _ = sock.send_to(text.as_bytes(), to);
        }
        std::thread::sleep(every);
    }
}

/// Random garbage as fast as one sender can: xorshift bytes, random
/// lengths, half of them starting with the protocol's magic so that they
/// get past the cheapest check. Send errors (full buffers) are ignored.
fn flood(targets: &[SocketAddr], total: Duration) -> std::io::Result<()> {
    let sock = UdpSocket::bind(("0.0.0.0", 0))?;
    sock.set_broadcast(true)?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    let mut buf = [0u8; 200];
    let start = Instant::now();
    let (mut sent, mut turn) = (0u64, 0usize);
    while start.elapsed() < total {
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1 + (x % 200) as usize;
            for (i, b) in buf[..len].iter_mut().enumerate() {
                *b = (x >> ((i % 8) * 8)) as u8 ^ i as u8;
            }
            if x & 1 == 0 && len >= 4 {
                buf[..4].copy_from_slice(b"IPFO");
            }
            turn = (turn + 1) % targets.len();
            let to = targets[turn];
            if sock.send_to(&buf[..len], to).is_ok() {
                sent += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("sent={sent} rate={:.0}/s", sent as f64 / secs);
    Ok(())
}

fn http(addr: SocketAddr, path: &str, method: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    std::io::stdout().write_all(&out)
}

/// Requests no server should answer with anything but an error.
const GARBAGE: [&[u8]; 6] = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    b"GET /metrics HTTP/9.9\r\n\r\n",
    b"BREW /metrics HTTP/1.1\r\n\r\n",
    b"GET /../../etc/shadow HTTP/1.1\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nno header\r\n\r\n",
    b"GET /metrics HTTP/1.1\r\nX: ",
];

fn hold(addr: SocketAddr, count: usize, total: Duration) -> std::io::Result<()> {
    let start = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let garbage = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut sent, mut k) = (0u64, 0usize);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                    let g = GARBAGE[k % GARBAGE.len()];
                    let _ = s.write_all(g);
                    if k % GARBAGE.len() == GARBAGE.len() - 1 {
                        // An endless header line.
                        let _ = s.write_all(&[b'a'; 16 * 1024]);
                    }
                    sent += 1;
                }
                k += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            sent
        })
    };
    let mut open: Vec<Option<TcpStream>> = (0..count).map(|_| None).collect();
    let mut reopened = 0u64;
    let mut announced = false;
    let mut probe = [0u8; 64];
    while start.elapsed() < total {
        for slot in open.iter_mut() {
            let closed = match slot {
                None => true,
                Some(s) => match s.read(&mut probe) {
                    Ok(_) => true,
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                },
            };
            if closed {
                if slot.is_some() {
                    reopened += 1;
                }
                *slot = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                    .and_then(|s| s.set_nonblocking(true).map(|_| s))
                    .ok();
            }
        }
        if !announced {
            println!("open={}", open.iter().filter(|s| s.is_some()).count());
            announced = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = garbage.join().unwrap_or(0);
    println!(
        "held={} reopened={reopened} garbage={sent} for {:.1}s",
        open.iter().filter(|s| s.is_some()).count(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
