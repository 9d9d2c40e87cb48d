use super::*;

/// A fake system: eth0 on 198.18.0.0/24, eth1 on 198.19.0.0/24.
struct Fake;

impl SystemView for Fake {
    fn interface_for(&self, ip: IpAddr) -> Option<IfName> {
        match ip {
            IpAddr::V4(v) if v.octets()[..3] == [198, 18, 0] => IfName::new("eth0").ok(),
            IpAddr::V4(v) if v.octets()[..3] == [198, 19, 0] => IfName::new("eth1").ok(),
            _ => None,
        }
    }
}

pub(crate) const SECONDARY: &str = "\
# reference secondary
role           = secondary
port           = 1694
interval       = 1s
dead_after     = 3s       # >= 2 x interval
recover_after  = 3s
startup_grace  = 0s
network        = public  eth0 198.18.0.255
network        = private eth1 198.19.0.255
peer           = 198.19.0.1
address        = eth0:198.18.0.10/24
mode           = managed
auth_key_file  = /etc/ipfailoverd.key
legacy_heartbeat = no
notify         = admin@example.com
sendmail       = /usr/sbin/sendmail
scripts_dir    = /etc/ipfailoverd
hook_timeout   = 30s
garp_count     = 3
garp_interval  = 100ms
syslog_facility = daemon
pidfile        = /run/ipfailoverd.pid
control_socket = /run/ipfailoverd.sock
state_dir      = /var/lib/ipfailoverd
failback       = auto
mail_timeout   = 30s
";

pub(crate) fn ok(text: &str) -> Config {
    match parse(text, "t.conf", &Fake) {
        Ok(c) => c,
        Err(e) => panic!("{e:?}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, "t.conf", &Fake) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.iter().map(|e| e.to_string()).collect(),
    }
}

fn has(errs: &[String], needle: &str) -> bool {
    errs.iter().any(|e| e.contains(needle))
}

const MIN: &str = "role = secondary\nnetwork = public eth0 198.18.0.255\nnetwork = private eth1 198.19.0.255\npeer = 198.19.0.1\naddress = eth0:198.18.0.10/24\n";

#[test]
fn reference_secondary() {
    let c = ok(SECONDARY);
    assert_eq!(c.role, Role::Secondary);
    assert_eq!(c.network(NetId::Public).interface.as_str(), "eth0");
    assert_eq!(c.network(NetId::Private).dest, "198.19.0.255".parse::<IpAddr>().unwrap());
    assert_eq!(c.peer, Some("198.19.0.1".parse().unwrap()));
    assert_eq!(c.addresses.len(), 1);
    assert_eq!(c.addresses[0].to_string(), "eth0:198.18.0.10/24");
    assert_eq!(c.notify, vec!["admin@example.com"]);
    assert_eq!(c.auth_key_file.as_deref(), Some(Path::new("/etc/ipfailoverd.key")));
    assert_eq!(c.line_of("peer"), 10);
}

#[test]
fn reference_primary_and_defaults() {
    let c = ok("role = primary\nnetwork = public eth0 198.18.0.255\nnetwork = private eth1 198.19.0.2\naddress = eth0:198.18.0.10\n");
    assert_eq!(c.role, Role::Primary);
    assert_eq!(c.port, 1694);
    assert_eq!(c.interval, Duration::from_secs(1));
    assert_eq!(c.dead_after, Duration::from_secs(3));
    assert_eq!(c.recover_after, Duration::from_secs(3));
    assert_eq!(c.startup_grace, Duration::ZERO);
    assert_eq!(c.mode, Mode::Managed);
    assert_eq!(c.auth_key_file, None);
    assert_eq!(c.legacy_heartbeat, Legacy::No);
    assert_eq!(c.legacy_message, "heartbeat");
    assert_eq!(c.notify, vec!["root"]);
    assert_eq!(c.sendmail, Path::new("/usr/sbin/sendmail"));
    assert_eq!(c.scripts_dir, Path::new("/etc/ipfailoverd"));
    assert_eq!(c.hook_timeout, Duration::from_secs(30));
    assert_eq!(c.garp_count, 3);
    assert_eq!(c.garp_interval, Duration::from_millis(100));
    assert_eq!(c.syslog_facility, "daemon");
    assert_eq!(c.pidfile, Path::new("/run/ipfailoverd.pid"));
    assert_eq!(c.control_socket, Path::new("/run/ipfailoverd.sock"));
    assert_eq!(c.state_dir, Path::new("/var/lib/ipfailoverd"));
    assert_eq!(c.failback, Failback::Auto);
    assert_eq!(c.mail_timeout, Duration::from_secs(30));
    assert_eq!(c.mail_min_interval, Duration::from_secs(600));
    assert_eq!(c.addresses[0].prefix, 32);
    assert_eq!(c.peer, None);
}

#[test]
fn durations() {
    use values::duration;
    assert_eq!(duration("10ms"), Ok(Duration::from_millis(10)));
    assert_eq!(duration("1s"), Ok(Duration::from_secs(1)));
    assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(duration("0.001s"), Ok(Duration::from_millis(1)));
    assert!(duration("250").unwrap_err().contains("needs a unit"));
    for bad in [
        "",
        "s",
        "ms",
        "-1s",
        "1.s",
        ".5s",
        "1e3ms",
        "1.0001s",
        "1.5ms",
        "99999999999999999999s",
        "1 s",
        "1m",
    ] {
        assert!(duration(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn interface_names() {
    assert!(IfName::new("abcdefghijklmno").is_ok()); // 15 bytes
    assert!(IfName::new("abcdefghijklmnop").is_err()); // 16 bytes
    for bad in ["", "a/b", "a:b", "a b", ".", ".."] {
        assert!(IfName::new(bad).is_err(), "{bad:?}");
    }
    let errs = errors(&MIN.replace("public eth0", "public abcdefghijklmnop"));
    assert!(has(&errs, "t.conf:2: network: interface name"), "{errs:?}");
}

#[test]
fn every_error_with_its_line_and_all_at_once() {
    let text = "role = secondary\ninterval = fast\nbogus = 1\nport = 70000\nnetwork = public eth0 198.18.0.255\nnetwork = private eth1 198.19.0.255\npeer = 198.19.0.1\naddress = eth0:198.18.0.10/33\ngarp_count = -1\npidfile = run/x.pid\nsyslog_facility = nope\nfailback = later\nmode = dynamic\nno equals sign\n";
    let errs = errors(text);
    for want in [
        "t.conf:2: interval:",
        "t.conf:3: unknown key \"bogus\"",
        "t.conf:4: port:",
        "t.conf:8: address: prefix",
        "t.conf:9: garp_count:",
        "t.conf:10: pidfile: \"run/x.pid\" must be an absolute path",
        "t.conf:11: syslog_facility:",
        "t.conf:12: failback:",
        "t.conf:13: mode:",
        "t.conf:14: expected 'key = value'",
    ] {
        assert!(has(&errs, want), "missing {want:?} in {errs:#?}");
    }
}

#[test]
fn dead_after_must_be_twice_interval() {
    let errs = errors(&format!("{MIN}interval = 1s\ndead_after = 1500ms\n"));
    assert!(has(&errs, "t.conf:7: dead_after (1.5s) must be at least twice interval"), "{errs:?}");
    ok(&format!("{MIN}interval = 10ms\ndead_after = 20ms\n"));
}

#[test]
fn duplicates_and_missing_keys() {
    let errs = errors(&format!("{MIN}port = 1\nport = 2\n"));
    assert!(has(&errs, "t.conf:7: port is already set on line 6"), "{errs:?}");
    let errs = errors("role = secondary\n");
    assert!(has(&errs, "t.conf: missing key peer"), "{errs:?}");
    assert!(has(&errs, "t.conf: missing key address"), "{errs:?}");
    assert!(has(&errs, "missing key network for the public network"), "{errs:?}");
    let errs = errors("network = public eth0 198.18.0.255\n");
    assert!(has(&errs, "missing key role"), "{errs:?}");
    let errs = errors(&format!("{MIN}address = eth0:198.18.0.10/24\n"));
    assert!(has(&errs, "t.conf:6: address 198.18.0.10 is already listed on line 5"), "{errs:?}");
    let errs = errors(&format!("{MIN}network = public eth2 198.18.0.255\n"));
    assert!(has(&errs, "t.conf:6: network public is already defined on line 2"), "{errs:?}");
}

#[test]
fn ipv6_forms_get_precise_messages() {
    let errs = errors(&MIN.replace("198.18.0.10/24", "[fd00:18::10]/64"));
    assert!(has(&errs, "without brackets"), "{errs:?}");
    let errs = errors(&MIN.replace("peer = 198.19.0.1", "peer = fe80::1%eth1"));
    assert!(has(&errs, "zone indexes"), "{errs:?}");
    let errs = errors(&MIN.replace("eth0:198.18.0.10/24", "fd00:18::10/64"));
    assert!(has(&errs, "t.conf:5: address: \"fd00:18::10/64\" has no interface"), "{errs:?}");
    let errs = errors(&MIN.replace("198.18.0.10/24", "fd00:18::10/129"));
    assert!(has(&errs, "t.conf:5: address: prefix \"129\" must be a number from 1 to 128"), "{errs:?}");
    let errs = errors(&MIN.replace("eth1 198.19.0.255", "eth1 ff05::1:2"));
    assert!(has(&errs, "t.conf:3: network: ff05::1:2 is not a link-scoped multicast group"), "{errs:?}");
    let errs = errors(&MIN.replace("198.18.0.10/24", "fd00:18::10%eth0/64"));
    assert!(has(&errs, "zone indexes"), "{errs:?}");
}

#[test]
fn ipv6_and_mixed_pairs() {
    let c = ok(&format!(
        "{}address = eth0:fd00:18::10/64\n",
        MIN.replace("eth1 198.19.0.255", "eth1 ff02::1:2").replace("peer = 198.19.0.1", "peer = fe80::1")
    ));
    let a: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(a, ["eth0:198.18.0.10/24", "eth0:fd00:18::10/64"]);
    assert_eq!(c.network(NetId::Private).dest, "ff02::1:2".parse::<IpAddr>().unwrap());
    assert_eq!(c.network(NetId::Public).dest, "198.18.0.255".parse::<IpAddr>().unwrap());
    assert_eq!(c.peer, Some("fe80::1".parse().unwrap()));
    let c = ok(&MIN.replace("eth0 198.18.0.255", "eth0 fd00:18::2"));
    assert_eq!(c.network(NetId::Public).dest, "fd00:18::2".parse::<IpAddr>().unwrap());
}

#[test]
fn notify_cannot_inject_headers() {
    let c = ok(&format!("{MIN}notify = a@b.example, c@d.example\nnotify = e@f\n"));
    assert_eq!(c.notify, vec!["a@b.example", "c@d.example", "e@f"]);
    for bad in ["a@b\u{7}", "x<a@b>", "a@b\rBcc: x"] {
        let errs = errors(&format!("{MIN}notify = {bad}\n"));
        assert!(has(&errs, "t.conf:6: notify:"), "{bad:?}: {errs:?}");
    }
}

#[test]
fn comments_and_spacing() {
    let c =
        ok(&format!("  # indented comment\n{MIN}port=1700 # trailing\nlegacy_message = \"heart#beat\"\n\n"));
    assert_eq!(c.port, 1700);
    assert_eq!(c.legacy_message, "heart#beat");
}

const HOSTCONFIG: &str = r#"##
# /etc/hostconfig
##
AFPSERVER=-YES-
AUTHSERVER=-NO-
AUTOMOUNT=-YES-
CUPS=-YES-
IPFORWARDING=-NO-
IPV6=-YES-
MAILSERVER=-NO-
NETBOOTSERVER=-NO-
NETINFOSERVER=-AUTOMATIC-
NFSLOCKS=-AUTOMATIC-
QTSSERVER=-NO-
SMBSERVER=-NO-
SPOTLIGHT=-YES-
TIMESYNC=-YES-
WEBSERVER=-NO-
HOSTNAME=-AUTOMATIC-
ARDAGENT=-NO-
FAILOVER_PEER_IP="198.19.0.1"
FAILOVER_PEER_IP_PAIRS='en0:198.18.0.10/24'
FAILOVER_EMAIL_RECIPIENT="admin@example.com ops@example.com"
"#;

#[test]
fn apple_hostconfig_secondary() {
    let text = HOSTCONFIG.replace("en0:", "eth0:");
    let c = ok(&text);
    assert_eq!(c.role, Role::Secondary);
    assert_eq!(c.peer, Some("198.19.0.1".parse().unwrap()));
    assert_eq!(c.network(NetId::Private).interface.as_str(), "eth1");
    assert_eq!(c.network(NetId::Public).interface.as_str(), "eth0");
    assert_eq!(c.network(NetId::Public).dest, "198.18.0.255".parse::<IpAddr>().unwrap());
    assert_eq!(c.addresses[0].to_string(), "eth0:198.18.0.10/24");
    assert_eq!(c.notify, vec!["admin@example.com", "ops@example.com"]);
    assert_eq!(c.ignored_keys.len(), 17);
    assert_eq!(c.ignored_keys[0], (4, "AFPSERVER".to_string()));
}

#[test]
fn apple_primary_unquoted() {
    let c = ok("FAILOVER_BCAST_IPS=198.18.0.255 198.19.0.255\n");
    assert_eq!(c.role, Role::Primary);
    assert_eq!(c.mode, Mode::Static);
    assert_eq!(c.network(NetId::Private).interface.as_str(), "eth1");
}

#[test]
fn apple_errors() {
    let errs = errors(&format!("{HOSTCONFIG}FAILOVER_PEER_IPS=\"x\"\n"));
    assert!(has(&errs, "t.conf:24: unknown Apple key \"FAILOVER_PEER_IPS\""), "{errs:?}");
    // Upper-case junk outside a hostconfig file is just an unknown key.
    let errs = errors(&format!("{MIN}AFPSERVER=-YES-\n"));
    assert!(has(&errs, "t.conf:6: unknown key \"AFPSERVER\""), "{errs:?}");
    let errs = errors(&format!("{MIN}FAILOVER_PEER_IP=198.19.0.1\n"));
    assert!(has(&errs, "t.conf:6: FAILOVER_PEER_IP sets peer, which is already set on line 4"), "{errs:?}");
    let errs =
        errors("role = primary\nFAILOVER_PEER_IP=198.19.0.1\nFAILOVER_PEER_IP_PAIRS=eth0:198.18.0.10\n");
    assert!(has(&errs, "sets role, which is already set on line 1"), "{errs:?}");
    let errs = errors("FAILOVER_PEER_IP=10.9.9.9\nFAILOVER_PEER_IP_PAIRS=eth0:198.18.0.10\n");
    assert!(has(&errs, "t.conf:1: no local interface has a subnet containing 10.9.9.9"), "{errs:?}");
    let errs = errors("FAILOVER_PEER_IP=\"198.19.0.1\nFAILOVER_PEER_IP_PAIRS=eth0:198.18.0.10\n");
    assert!(has(&errs, "t.conf:1: unterminated quote"), "{errs:?}");
}

#[test]
fn random_input_never_panics() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pieces = [
        "role",
        "=",
        " ",
        "\n",
        "#",
        "\"",
        "'",
        "network",
        "public",
        "private",
        "eth0",
        "198.18.0.255",
        ":",
        "/",
        "address",
        "FAILOVER_PEER_IP",
        "FAILOVER_BCAST_IPS",
        "1s",
        "10ms",
        "9999999999999999999",
        "é",
        "\0",
        "[",
        "%",
        "fd00::1",
        "peer",
        "interval",
        "dead_after",
        "notify",
        ",",
    ];
    for _ in 0..5_000 {
        let mut text = if next() % 3 == 0 { SECONDARY.to_string() } else { String::new() };
        for _ in 0..(next() % 40) {
            let piece = pieces[(next() % pieces.len() as u64) as usize];
            let at = if text.is_empty() { 0 } else { (next() as usize) % text.len() };
            if text.is_char_boundary(at) {
                text.insert_str(at, piece);
            }
        }
        let _ = parse(&text, "fuzz.conf", &Fake);
    }
}

/// Found by `cargo fuzz run config`: an empty Apple recipient list was
/// accepted and left the pair with no one to mail.
#[test]
fn fuzz_empty_apple_recipient_is_refused() {
    let text = format!("{MIN}FAILOVER_EMAIL_RECIPIENT = ");
    let errs = errors(&text);
    assert!(has(&errs, "t.conf:6: notify: empty mail recipient"), "{errs:?}");
    for value in ["\"\"", "' , '", "\" \t\""] {
        let errs = errors(&format!("{MIN}FAILOVER_EMAIL_RECIPIENT = {value}\n"));
        assert!(has(&errs, "t.conf:6: notify: empty mail recipient"), "{value}: {errs:?}");
    }
    let c = ok(&format!("{MIN}FAILOVER_EMAIL_RECIPIENT = \"a@b.example,c@d.example\"\n"));
    assert_eq!(c.notify, ["a@b.example", "c@d.example"]);
}

#[test]
fn shipped_examples_parse() {
    for (name, text) in [
        ("primary.conf", include_str!("../../scripts/examples/primary.conf")),
        ("secondary.conf", include_str!("../../scripts/examples/secondary.conf")),
    ] {
        struct Any;
        impl SystemView for Any {
            fn interface_for(&self, _: IpAddr) -> Option<IfName> {
                None
            }
        }
        if let Err(e) = parse(text, name, &Any) {
            panic!("{name}: {e:?}");
        }
    }
}

/// Both shipped examples, as an operator copies them onto the two nodes,
/// name the same pair without a `pair` line; another address list (a
/// second pair on the network) names another. Interface names may differ
/// between the nodes.
#[test]
fn both_examples_derive_one_pair_name() {
    struct Any;
    impl SystemView for Any {
        fn interface_for(&self, _: IpAddr) -> Option<IfName> {
            None
        }
    }
    let p = parse(include_str!("../../scripts/examples/primary.conf"), "p", &Any).unwrap();
    let s = parse(include_str!("../../scripts/examples/secondary.conf"), "s", &Any).unwrap();
    let name = p.pair_name().unwrap();
    assert!(name.derived && name.name.starts_with("auto-"), "{name:?}");
    assert_eq!(s.pair_name(), Some(name.clone()));
    let renamed = SECONDARY.replace("eth0", "ens3").replace("eth1", "ens4");
    assert_eq!(ok(&renamed).pair_name(), ok(SECONDARY).pair_name(), "interface names do not count");
    let other = ok(&SECONDARY.replace("198.18.0.10/24", "198.18.0.20/24"));
    assert_ne!(other.pair_name(), ok(SECONDARY).pair_name());
}

#[test]
fn the_pair_key_names_the_pair() {
    let c = ok(&format!("{SECONDARY}pair = web-1\n"));
    assert_eq!(c.pair_name(), Some(PairName { name: "web-1".into(), derived: false }));
    assert_eq!(c.line_of("pair"), SECONDARY.lines().count() + 1);
    assert_eq!(c.ident(), "ipfailoverd/web-1", "a named pair names its log lines and mail");
    assert_eq!(ok(SECONDARY).ident(), "ipfailoverd", "a derived name says nothing to a reader");
    let errs = errors(&format!("{SECONDARY}pair = web 1\n"));
    let line = SECONDARY.lines().count() + 1;
    assert!(has(&errs, &format!("t.conf:{line}: pair: \"web 1\" must be 1 to 64")), "{errs:?}");
    // A static primary from hostconfig lists no address: unnamed.
    let c = parse(include_str!("../../tests/data/hostconfig.primary"), "h", &Fake).unwrap();
    assert_eq!(c.pair_name(), None);
    let named = format!("{}\npair = web\n", include_str!("../../tests/data/hostconfig.primary"));
    assert_eq!(parse(&named, "h", &Fake).unwrap().pair_name().map(|p| p.name), Some("web".into()));
}

/// A complete Mac OS X Server hostconfig, as shipped in `tests/data`:
/// dozens of unrelated keys, comments, Apple's interface names.
#[test]
fn real_hostconfig_files() {
    let text = include_str!("../../tests/data/hostconfig.secondary");
    let c = parse(text, "/etc/hostconfig", &Fake).unwrap();
    assert_eq!(c.role, Role::Secondary);
    assert_eq!((c.mode, c.legacy_heartbeat), (Mode::Static, Legacy::Yes));
    let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(addrs, ["en0:198.18.0.10/24", "en0:198.18.0.11/24"]);
    assert_eq!(c.network(NetId::Public).interface.as_str(), "en0");
    assert_eq!(c.network(NetId::Private).interface.as_str(), "eth1");
    assert_eq!(c.network(NetId::Private).dest, "198.19.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(c.notify, ["admin@example.com", "ops@example.com"]);
    assert_eq!(c.ignored_keys.len(), 37);
    assert_eq!(c.ignored_keys[0], (8, "HOSTNAME".to_string()));
    assert!(c.ignored_keys.iter().any(|(_, k)| k == "APPLETALK_HOSTNAME"));

    let c = parse(include_str!("../../tests/data/hostconfig.primary"), "h", &Fake).unwrap();
    assert_eq!(c.role, Role::Primary);
    assert_eq!((c.mode, c.legacy_heartbeat), (Mode::Static, Legacy::Send));
    assert!(c.addresses.is_empty());

    // Native keys beside the Apple ones win over the Apple defaults.
    let c = ok(&format!("{HOSTCONFIG}legacy_heartbeat = no\nmode = managed\n"));
    assert_eq!((c.mode, c.legacy_heartbeat), (Mode::Managed, Legacy::No));
    // A mistyped FAILOVER_ key in a real file is an error with its line.
    let errs = errors(&text.replace("FAILOVER_EMAIL_RECIPIENT", "FAILOVER_EMAIL_RECIPIENTS"));
    assert!(has(&errs, "t.conf:51: unknown Apple key \"FAILOVER_EMAIL_RECIPIENTS\""), "{errs:?}");
}

/// Issue 16, item 4: Apple's text has no MAC, so accepting it beside a key
/// is refused unless the operator says so, also when `yes` comes from the
/// hostconfig keys rather than from the file.
#[test]
fn legacy_text_beside_a_key_needs_the_operators_word() {
    let native = SECONDARY.replace("legacy_heartbeat = no", "legacy_heartbeat = yes");
    let errs = errors(&native);
    assert!(has(&errs, "t.conf:14: legacy_heartbeat = yes accepts Apple's unauthenticated"), "{errs:?}");
    assert!(has(&errs, "auth_key_file (line 13)"), "{errs:?}");
    assert!(has(&errs, "legacy_heartbeat = yes-unauthenticated to accept the text anyway"), "{errs:?}");
    let c = ok(&SECONDARY.replace("legacy_heartbeat = no", "legacy_heartbeat = yes-unauthenticated"));
    assert_eq!(c.legacy_heartbeat, Legacy::YesUnauthenticated);
    assert!(c.legacy_heartbeat.accepts());
    // Without a key there is nothing to bypass.
    let c = ok(&native.replace("auth_key_file  = /etc/ipfailoverd.key\n", ""));
    assert_eq!(c.legacy_heartbeat, Legacy::Yes);

    // The hostconfig secondary gets `yes` from Apple's keys.
    let text = format!("{HOSTCONFIG}auth_key_file = /etc/ipfailoverd.key\n");
    let errs = errors(&text);
    let line = text.lines().position(|l| l.starts_with("FAILOVER_PEER_IP=")).unwrap() + 1;
    let want = format!("t.conf:{line}: legacy_heartbeat = yes (implied by the FAILOVER_ keys) accepts");
    assert!(has(&errs, &want), "{errs:?}");
    let c = ok(&format!("{text}legacy_heartbeat = yes-unauthenticated\n"));
    assert_eq!(c.legacy_heartbeat, Legacy::YesUnauthenticated);
    let c = ok(&format!("{text}legacy_heartbeat = no\n"));
    assert_eq!(c.legacy_heartbeat, Legacy::No);
    // The primary's `send` accepts nothing: a key beside it is fine.
    let primary = include_str!("../../tests/data/hostconfig.primary");
    let c = parse(&format!("{primary}\nauth_key_file = /etc/ipfailoverd.key\n"), "h", &Fake).unwrap();
    assert_eq!(c.legacy_heartbeat, Legacy::Send);
}

#[test]
fn checks_with_global_and_per_check_timing() {
    let c = ok(&format!(
        "{SECONDARY}check = web /usr/local/bin/check-http 127.0.0.1 80\n\
         check_interval = db 500ms\n\
         check = db /usr/bin/pg_isready -q\n\
         check_fall = 5\n\
         check_timeout = web 1s\n\
         check_rise = db 4\n\
         check_gates_takeover = no\n"
    ));
    assert_eq!(c.checks.len(), 2);
    assert_eq!(c.checks[0].name, "web");
    assert_eq!(c.checks[0].program, PathBuf::from("/usr/local/bin/check-http"));
    assert_eq!(c.checks[0].args, ["127.0.0.1", "80"]);
    let ms = Duration::from_millis;
    let web = c.check_timing(&c.checks[0]);
    assert_eq!(web, CheckTiming { interval: ms(2000), timeout: ms(1000), fall: 5, rise: 2 });
    let db = c.check_timing(&c.checks[1]);
    // The timeout follows the check's own interval.
    assert_eq!(db, CheckTiming { interval: ms(500), timeout: ms(500), fall: 5, rise: 4 });
    assert!(!c.check_gates_takeover);
    assert!(ok(SECONDARY).checks.is_empty());
    assert!(ok(SECONDARY).check_gates_takeover);
}

#[test]
fn bad_checks_are_reported_at_their_lines() {
    let n = SECONDARY.lines().count();
    let e = errors(&format!(
        "{SECONDARY}check = Web /bin/true\n\
         check = web bin/true\n\
         check = ok /bin/true\n\
         check = ok /bin/false\n\
         check = lonely\n\
         check_interval = nosuch 1s\n\
         check_fall = 0\n\
         check_fall = 2\n\
         check_rise = ok 1 2\n\
         check_timeout = ok 5\n\
         check = {} /bin/true\n",
        "x".repeat(33)
    ));
    let at = |k: usize, needle: &str| {
        let want = format!("t.conf:{}: ", n + k);
        assert!(e.iter().any(|m| m.starts_with(&want) && m.contains(needle)), "{want}{needle} in {e:#?}");
    };
    at(1, "check name \"Web\" must be 1 to 32 of a-z, 0-9, _ and -");
    at(2, "check: \"bin/true\" must be an absolute path");
    at(4, &format!("check ok is already defined on line {}", n + 3));
    at(5, "expected 'check = NAME PROGRAM [ARGS...]'");
    at(6, "check_interval: no check named \"nosuch\"");
    at(7, "check_fall: \"0\" must be a number from 1 to 100");
    at(9, "check_rise: expected 'check_rise = VALUE' or 'check_rise = CHECK VALUE'");
    at(10, "check_timeout: duration \"5\" needs a unit");
    at(11, "must be 1 to 32");
    assert_eq!(e.len(), 9, "{e:#?}");
}

#[test]
fn per_check_timing_twice_is_an_error() {
    let n = SECONDARY.lines().count();
    let e = errors(&format!(
        "{SECONDARY}check = web /bin/true\ncheck_fall = web 2\ncheck_fall = web 3\ncheck_fall = 4\n"
    ));
    assert_eq!(e, [format!("t.conf:{}: check_fall for check web is already set on line {}", n + 3, n + 2)]);
}

#[test]
fn metrics_listen_takes_an_address_and_a_port() {
    assert_eq!(ok(MIN).metrics_listen, None);
    let c = ok(&format!("{MIN}metrics_listen = 127.0.0.1:9101\n"));
    assert_eq!(c.metrics_listen, Some("127.0.0.1:9101".parse().unwrap()));
    assert_eq!(c.line_of("metrics_listen"), 6);
    let c = ok(&format!("{MIN}metrics_listen = [::1]:9101\n"));
    assert_eq!(c.metrics_listen, Some("[::1]:9101".parse().unwrap()));
    for (bad, says) in [
        ("127.0.0.1", "t.conf:6: metrics_listen: \"127.0.0.1\" has no port"),
        ("::1", "t.conf:6: metrics_listen: \"::1\" has no port"),
        ("localhost:9101", "is not address:port"),
        ("::1:9101", "write an IPv6 address in brackets"),
        ("127.0.0.1:0", "the port must be from 1 to 65535"),
        ("127.0.0.1:65536", "is not address:port"),
        ("[fe80::1%2]:9101", "zone indexes"),
    ] {
        let errs = errors(&format!("{MIN}metrics_listen = {bad}\n"));
        assert!(has(&errs, says), "{bad}: {errs:?}");
    }
}
