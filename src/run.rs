//! What a parsed command line does, for ipfailoverd's own syntax
//! (`cli.rs`) and Apple's (`personality.rs`) alike: run the daemon, check
//! the configuration against this system (`-n`), or ask the running daemon.
//! Both command lines call down into here; nothing here calls back up.
#![forbid(unsafe_code)]

use crate::config::{self, Config};
use crate::system::LiveSystem;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunMode {
    /// Fork into the background, log to syslog.
    #[default]
    Daemon,
    /// `-d`
    Debug,
    /// `-n`
    Check,
    /// `-x`
    NoFork,
}

/// Sends one request to the daemon's control socket and prints the answer.
pub(crate) fn ask(socket: &std::path::Path, request: &str) -> i32 {
    match crate::daemon::client(socket, request) {
        Ok(body) => {
            print!("{body}");
            0
        }
        Err(e) => {
            eprintln!("ipfailoverd: {e}");
            1
        }
    }
}

/// `-n`: the configuration against this system; otherwise runs the daemon.
pub(crate) fn check_or_run(cfg: Config, mode: RunMode) -> i32 {
    if mode != RunMode::Check {
        let opts =
            crate::daemon::Options { log_stderr: mode == RunMode::Debug, detach: mode == RunMode::Daemon };
        return crate::daemon::run(cfg, &opts);
    }
    let mut problems = config::check_system(&cfg);
    problems.extend(hook_problems(&cfg));
    let running = match crate::daemon::instances::check(&cfg) {
        Ok(taken) => {
            problems.extend(taken);
            None
        }
        Err(note) => Some(note),
    };
    let layout = config::check_layout(&cfg, &LiveSystem);
    problems.extend(layout.errors);
    problems.sort_by_key(|e| e.line);
    for p in &problems {
        eprintln!("{p}");
    }
    // Warnings after the errors, each marked, so that an operator (or a
    // script) can tell what stops the daemon from what merely looks wrong.
    for w in &layout.warnings {
        eprintln!("{}", warning(w));
    }
    if !problems.is_empty() {
        eprintln!("{}: {} error(s), {} warning(s)", cfg.file, problems.len(), layout.warnings.len());
        return 1;
    }
    if let Some(note) = running {
        println!("{}: {note}", cfg.file);
    }
    if !cfg.ignored_keys.is_empty() {
        let keys: Vec<&str> = cfg.ignored_keys.iter().map(|(_, k)| k.as_str()).collect();
        println!("{}: note: ignored {} unrelated hostconfig keys: {}", cfg.file, keys.len(), keys.join(" "));
    }
    if cfg.auth_key_file.is_some() && cfg.legacy_heartbeat.accepts() {
        println!("{}: warning: {}", cfg.file, crate::daemon::start::legacy_bypass_warning());
    }
    match cfg.pair_name() {
        Some(p) => println!(
            "{}: pair {} (id {}{}): the other node must show the same",
            cfg.file,
            p.name,
            crate::proto::pair::hex(crate::proto::pair::id(&p.name)),
            if p.derived { ", derived from the service addresses and the port" } else { "" }
        ),
        None => println!(
            "{}: note: the pair is unnamed (no pair line and no service address): datagrams of another \
             pair on the same network cannot be told apart; set the same pair = NAME on both nodes",
            cfg.file
        ),
    }
    match layout.warnings.len() {
        0 => println!("{}: configuration OK ({})", cfg.file, cfg.role.as_str()),
        n => println!("{}: configuration OK ({}), {n} warning(s) above", cfg.file, cfg.role.as_str()),
    }
    0
}

/// `file:line: warning: message`: the same shape as an error, marked.
fn warning(w: &config::ConfigError) -> String {
    config::ConfigError { message: format!("warning: {}", w.message), ..w.clone() }.to_string()
}

/// Every hook the secondary would skip (an unsafe file or directory on the
/// way to it, see `hooks::discover`), as `-n` errors at `scripts_dir`.
/// Hooks only run on the secondary.
fn hook_problems(cfg: &Config) -> Vec<config::ConfigError> {
    use crate::hooks::{discover, Stage};
    if cfg.role != config::Role::Secondary {
        return Vec::new();
    }
    let stages = [Stage::Test, Stage::PreAcq, Stage::PostAcq, Stage::PreRel, Stage::PostRel];
    cfg.addresses
        .iter()
        .flat_map(|a| stages.iter().flat_map(move |&stage| discover(&cfg.scripts_dir, a, stage).1))
        .map(|skipped| config::ConfigError {
            file: cfg.file.clone(),
            line: cfg.line_of("scripts_dir"),
            message: skipped.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IfName;
    use std::net::IpAddr;

    #[test]
    fn check_reports_hooks_that_would_be_skipped() {
        if !crate::root_or_skip("check_reports_hooks_that_would_be_skipped") {
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        struct NoLookups;
        impl config::SystemView for NoLookups {
            fn interface_for(&self, _: IpAddr) -> Option<IfName> {
                None
            }
        }
        let d = std::env::temp_dir().join(format!("ipfo-cli-hooks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let hooks = d.join("198.18.0.10");
        std::fs::create_dir_all(&hooks).unwrap();
        for name in ["Test", "PreAcq1"] {
            std::fs::write(hooks.join(name), "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(hooks.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let text = format!(
            "role = secondary\nnetwork = public eth0 198.18.0.255\nnetwork = private eth1 198.19.0.255\n\
             peer = 198.19.0.1\naddress = eth0:198.18.0.10/24\nscripts_dir = {}\n",
            d.display()
        );
        let cfg = config::parse(&text, "t.conf", &NoLookups).unwrap();
        assert!(hook_problems(&cfg).is_empty());
        std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o775)).unwrap();
        let found: Vec<String> = hook_problems(&cfg).iter().map(|e| e.to_string()).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().all(|e| e.starts_with("t.conf:6: skipping hook") && e.contains("mode 0775")),
            "{found:?}"
        );
        let primary = config::parse(&text.replace("secondary", "primary"), "t.conf", &NoLookups).unwrap();
        assert!(hook_problems(&primary).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
