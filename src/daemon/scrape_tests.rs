use super::*;

#[test]
fn routes() {
    let r = |s: &str| route(s.as_bytes());
    assert_eq!(r("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Route::Metrics { head_only: false });
    assert_eq!(r("GET /metrics?x=1 HTTP/1.0\n\n"), Route::Metrics { head_only: false });
    assert_eq!(r("GET http://198.18.0.2:9101/metrics HTTP/1.1\r\n\r\n"), Route::Metrics { head_only: false });
    assert_eq!(r("HEAD /metrics HTTP/1.1\r\n\r\n"), Route::Metrics { head_only: true });
    assert_eq!(r("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\n"), Route::MethodNotAllowed);
    assert_eq!(r("DELETE /metrics HTTP/1.1\r\n\r\n"), Route::MethodNotAllowed);
    assert_eq!(r("GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
    assert_eq!(r("GET /metrics/ HTTP/1.1\r\n\r\n"), Route::NotFound);
    assert_eq!(r("GET /metrics HTTP/2.0\r\n\r\n"), Route::VersionNotSupported);
    for bad in [
        "",
        "\r\n\r\n",
        "GET /metrics\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "get /metrics HTTP/1.1\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "GET /met\x01rics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET /metrics FTP/1.1\r\n\r\n",
        "\u{0}\u{1}\u{2}\r\n\r\n",
    ] {
        assert_eq!(r(bad), Route::BadRequest, "{bad:?}");
    }
    assert_eq!(route(&[0xff, 0xfe, b'\n', b'\n']), Route::BadRequest);
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 64) as usize;
        let alphabet = b"GET /metrics HTTP/1.1\r\n:\x00\xff ";
        let bytes: Vec<u8> = (0..len).map(|i| alphabet[(x >> (i % 60)) as usize % alphabet.len()]).collect();
        let _ = route(&bytes);
    }
}

#[test]
fn head_ends_at_the_blank_line() {
    assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
    assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(16));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
}

#[test]
fn responses_close_and_head_keeps_the_length() {
    let full = String::from_utf8(response(200, "OK", &[("Content-Type", "a/b")], b"hello", false)).unwrap();
    assert_eq!(
        full,
        "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    );
    let head = String::from_utf8(response(404, "Not Found", &[], b"nope", true)).unwrap();
    assert_eq!(
        head,
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"
    );
}

fn ask(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The real server on loopback: answers, refusals, and its bounds.
#[test]
fn serves_and_stays_bounded() {
    let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let shelf = Shelf::default();
    spawn(listener, shelf.clone()).unwrap();
    let r = ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 503 "), "nothing published yet: {r}");
    let now = Instant::now();
    assert!(shelf.put(Arc::new(crate::daemon::view::metrics::tests::sample(now))));
    let r = ask(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "{r}");
    assert!(r.contains("\r\nConnection: close\r\n"), "{r}");
    assert!(r.contains("\nipfailoverd_state{state=\"holding\"} 1\n"), "{r}");
    let body = r.split_once("\r\n\r\n").unwrap().1;
    assert!(r.contains(&format!("Content-Length: {}\r\n", body.len())), "{r}");
    let h = ask(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(h.starts_with("HTTP/1.1 200 OK\r\n") && h.ends_with("\r\n\r\n"), "{h}");
    assert!(ask(addr, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
    assert!(ask(addr, b"GET /nothing HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
    assert!(ask(addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n").starts_with("HTTP/1.1 400 "));
    let huge = [b"GET /metrics HTTP/1.1\r\nX: ".as_slice(), &vec![b'a'; 3 * MAX_HEAD]].concat();
    assert!(ask(addr, &huge).starts_with("HTTP/1.1 431 "));

    // MAX_CONNECTIONS idle clients take every slot; the next is told 503
    // at once, not after a timeout.
    // (A client sees the end of its answer a moment before the server's
    // thread has counted itself out.)
    std::thread::sleep(Duration::from_millis(100));
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    let r = ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 503 "), "{r}");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // Idle clients that leave free their slots at once.
    drop(idle);
    let t0 = Instant::now();
    loop {
        let r = ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        if r.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(2), "slots not freed: {r}");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A client that dribbles its head is cut off at REQUEST_TIME.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(REQUEST_TIME * 3)).unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    for b in b"GET /metrics HTTP/1.1\r\n" {
        if slow.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if t0.elapsed() > REQUEST_TIME + Duration::from_secs(1) {
            break;
        }
    }
    let _ = slow.read_to_end(&mut got);
    let took = t0.elapsed();
    assert!(took < REQUEST_TIME + Duration::from_secs(2), "dribbling client kept for {took:?}");
    assert!(got.is_empty(), "no answer to an incomplete head");
}

/// What changes with every datagram comes from the live figures at scrape
/// time; the sample's other ages are carried forward.
#[test]
fn live_figures_and_ages_at_the_scrape() {
    let taken = Instant::now();
    let sample = crate::daemon::view::metrics::tests::sample(taken);
    let live = Live::default();
    let now = taken + Duration::from_millis(600);
    let before = live.current(&sample, now);
    assert_eq!(before.taken, now);
    assert_eq!(before.since, sample.since + Duration::from_millis(600));
    assert_eq!(before.networks[0].accepted, sample.networks[0].accepted, "nothing stored yet: the sample's");
    assert_eq!(
        before.networks[0].last_heard,
        sample.networks[0].last_heard.map(|a| a + Duration::from_millis(600))
    );
    live.store(0, 12345, 7, Some(now - Duration::from_millis(4)));
    live.store(1, 99, 0, None);
    let s = live.current(&sample, now);
    assert_eq!((s.networks[0].accepted, s.networks[0].legacy), (12345, 7));
    assert_eq!(s.networks[0].last_heard, Some(Duration::from_millis(4)));
    assert_eq!((s.networks[1].accepted, s.networks[1].last_heard), (99, None));
    let t = crate::daemon::view::metrics::render(&s, now);
    assert!(
        t.contains("ipfailoverd_heartbeats_accepted_total{network=\"public\",protocol=\"v1\"} 12345\n"),
        "{t}"
    );
    assert!(t.contains("ipfailoverd_heartbeat_age_seconds{network=\"public\"} 0.004\n"), "{t}");
    assert!(t.contains("ipfailoverd_peer_heard{network=\"public\"} 1\n"), "{t}");
}
