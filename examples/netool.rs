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
//!
//! Only std: it is a development tool, not part of the daemon.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

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

fn respond(name: &str, port: u16) -> std::io::Result<()> {
    let sock = UdpSocket::bind(("0.0.0.0", port))?;
    let mut buf = [0u8; 512];
    loop {
        let (_, src) = sock.recv_from(&mut buf)?;
        let _ = sock.send_to(name.as_bytes(), src);
    }
}

fn probe(addr: SocketAddr, every: Duration, total: Duration) -> std::io::Result<()> {
    let sock = UdpSocket::bind(("0.0.0.0", 0))?;
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
