use super::super::{parse, IfName, SystemView};
use super::*;

/// Apple's keys are not used here: no interface lookups.
struct NoSystem;

impl SystemView for NoSystem {
    fn interface_for(&self, _: IpAddr) -> Option<IfName> {
        None
    }
}

/// Every key set, each on its own line: the reference secondary of
/// `config::tests` and the keys it leaves at their defaults.
fn base() -> String {
    format!("{}{MORE}", crate::config::tests::SECONDARY)
}

const MORE: &str = "\
legacy_message = heartbeat
mail_min_interval = 600s
pair = web
check = web /usr/lib/ipfailoverd/check-http 127.0.0.1 80
check_interval = 2s
check_timeout = 2s
check_fall = 3
check_rise = 2
check_gates_takeover = yes
metrics_listen = 127.0.0.1:9101
";

/// For every key of the table, values that mean something else than in
/// `base()`. A key added to the table without one here fails the tests.
const OTHER: &[(&str, &[&str])] = &[
    ("role", &["primary"]),
    ("port", &["1700"]),
    ("interval", &["500ms"]),
    ("dead_after", &["5s"]),
    ("recover_after", &["1s"]),
    ("startup_grace", &["10s"]),
    ("network", &["public eth2 198.18.0.255", "private eth1 198.19.0.255"]),
    ("peer", &["198.19.0.3"]),
    ("address", &["eth0:198.18.0.11/24"]),
    ("outside_subnet", &["198.18.0.10"]),
    ("mode", &["static"]),
    ("auth_key_file", &["/etc/other.key"]),
    ("legacy_heartbeat", &["yes-unauthenticated"]),
    ("legacy_message", &["alive"]),
    ("notify", &["ops@example.com"]),
    ("sendmail", &["/usr/lib/sendmail"]),
    ("scripts_dir", &["/etc/other"]),
    ("hook_timeout", &["10s"]),
    ("garp_count", &["5"]),
    ("garp_interval", &["50ms"]),
    ("syslog_facility", &["local0"]),
    ("pidfile", &["/run/other.pid"]),
    ("control_socket", &["/run/other.sock"]),
    ("state_dir", &["/var/lib/other"]),
    ("failback", &["manual"]),
    ("mail_timeout", &["10s"]),
    ("mail_min_interval", &["60s"]),
    ("pair", &["db"]),
    ("takeover_probe", &["20ms"]),
    ("check", &["web /usr/lib/ipfailoverd/check-http 127.0.0.1 8080"]),
    ("check_interval", &["1s"]),
    ("check_timeout", &["500ms"]),
    ("check_fall", &["2"]),
    ("check_rise", &["1"]),
    ("check_gates_takeover", &["no"]),
    ("metrics_listen", &["[::1]:9101"]),
    ("interface_wait", &["10s"]),
];

fn ok(text: &str) -> Config {
    match parse(text, "t.conf", &NoSystem) {
        Ok(c) => c,
        Err(e) => panic!("{e:?}\n{text}"),
    }
}

/// `base()` with `key`'s lines replaced by the values of `OTHER`, written
/// at the end.
fn changed(key: &Key) -> Config {
    let values = OTHER.iter().find(|(k, _)| *k == key.name).map(|(_, v)| *v);
    let values = values.unwrap_or_else(|| panic!("no other value for {} in OTHER", key.name));
    let mut text: String = base()
        .lines()
        .filter(|l| l.split('=').next().map(str::trim) != Some(key.name))
        .map(|l| format!("{l}\n"))
        .collect();
    for v in values {
        text.push_str(&format!("{} = {v}\n", key.name));
    }
    ok(&text)
}

#[test]
fn names_are_unique_and_defaults_convert() {
    for (i, k) in KEYS.iter().enumerate() {
        assert!(KEYS[..i].iter().all(|o| o.name != k.name), "{} twice", k.name);
        let mut cfg = ok(&base());
        if let Some(d) = k.default {
            assert!((k.convert)(&mut cfg, d, 0).is_ok(), "default of {} does not convert", k.name);
        }
    }
}

#[test]
fn moved_lines_need_no_restart() {
    let text = base();
    let base = ok(&text);
    let network = |line: &str| line.starts_with("network");
    let nets: String = text.lines().filter(|l| network(l)).rev().map(|l| format!("{l}\n")).collect();
    let rest: String = text.lines().filter(|l| !network(l)).map(|l| format!("# note\n\n{l}\n")).collect();
    for text in [
        format!("# a comment above everything\n\n{text}"),
        format!("\n\n\n{text}"),
        // Networks last and private first, a comment between every line.
        format!("# moved\n{rest}\n{nets}"),
    ] {
        let moved = ok(&text);
        assert_ne!(moved.line_of_network(NetId::Public), base.line_of_network(NetId::Public));
        assert_eq!(restart_needed(&base, &moved), None, "{text}");
        assert!(KEYS.iter().all(|k| (k.same)(&base, &moved)), "{text}");
    }
}

#[test]
fn each_key_compares_only_its_own_meaning() {
    let base = ok(&base());
    assert_eq!(OTHER.len(), KEYS.len(), "OTHER must name every key of the table once");
    for key in KEYS {
        let new = changed(key);
        assert!(!(key.same)(&base, &new), "changing {} is not seen", key.name);
        for other in KEYS.iter().filter(|o| o.name != key.name) {
            assert!((other.same)(&base, &new), "changing {} looks like a change of {}", key.name, other.name);
        }
    }
}

#[test]
fn restart_only_keys_are_named_and_reloadable_ones_pass() {
    let base = ok(&base());
    for key in KEYS {
        let new = changed(key);
        let want = (key.reload == Reload::Restart).then_some(key.name);
        assert_eq!(restart_needed(&base, &new), want, "changing {}", key.name);
        assert_eq!(restart_needed(&new, &base), want, "changing {} back", key.name);
    }
}
