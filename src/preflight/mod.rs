//! `ipfailoverd -n`: the configuration against this machine. `config`
//! parses and validates the text (and, through `SystemView`, the host's
//! addresses: `config::check_networks`); what needs the file system, the
//! interfaces of this network namespace or the other instances on this
//! host is checked here, each topic in its file: `interfaces.rs`,
//! `files.rs` (the key, check programs, scripts_dir, sendmail, state_dir,
//! the pidfile's and socket's directories), `hooks.rs`. Errors stop the
//! daemon from working; warnings are settings that work but probably not
//! as meant.
#![forbid(unsafe_code)]

mod files;
mod hooks;
mod interfaces;

use crate::config::{self, Config, ConfigError, SystemView};
use crate::live_system::LiveSystem;

/// What `-n` found, errors apart from warnings. Built by `layout` and
/// `report` alone.
#[derive(Debug, Default)]
struct Findings {
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

/// `-n`: prints what is wrong with `cfg` on this machine, errors (by line)
/// then warnings, then, when nothing stops the daemon, the notes and the
/// verdict. The exit status: 1 for any error, else 0.
pub(crate) fn report(cfg: &Config) -> i32 {
    let mut problems = interfaces::missing(cfg);
    problems.extend(files::problems(cfg));
    problems.extend(hooks::skipped(cfg));
    let running = match crate::daemon::instances::check(cfg) {
        Ok(taken) => {
            problems.extend(taken);
            None
        }
        Err(note) => Some(note),
    };
    let layout = layout(cfg, &LiveSystem);
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
    notes(cfg, running, layout.warnings.len());
    0
}

/// The configuration against the host's addresses and directories: the
/// address checks (`config::check_networks`), then the directories of the
/// pidfile and the control socket; warnings about hooks and a missing key.
fn layout(cfg: &Config, sys: &dyn SystemView) -> Findings {
    let mut errors = config::check_networks(cfg, sys);
    errors.extend(files::run_directories(cfg));
    let mut warnings = hooks::warnings(cfg);
    if cfg.auth_key_file.is_none() {
        warnings.push(ConfigError {
            file: cfg.file.clone(),
            line: 0,
            message: "no auth_key_file: heartbeats are not authenticated and anyone on either network can \
                      forge them (see INSTALL, the shared key)"
                .into(),
        });
    }
    Findings { errors, warnings }
}

/// `file:line: warning: message`: the same shape as an error, marked.
fn warning(w: &ConfigError) -> String {
    ConfigError { message: format!("warning: {}", w.message), ..w.clone() }.to_string()
}

/// What a configuration without errors is told on stdout: a daemon already
/// running behind its socket, ignored hostconfig keys, Apple's text beside
/// a key, the pair's name, and the verdict.
fn notes(cfg: &Config, running: Option<String>, warnings: usize) {
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
    match warnings {
        0 => println!("{}: configuration OK ({})", cfg.file, cfg.role.as_str()),
        n => println!("{}: configuration OK ({}), {n} warning(s) above", cfg.file, cfg.role.as_str()),
    }
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod layout_tests;
