//! The command lines' verbs: what a parsed command line does, for
//! ipfailoverd's own syntax (`cli.rs`) and Apple's (`personality.rs`)
//! alike: run the daemon, check the configuration against this machine
//! (`-n`, `preflight/`), or ask the running daemon. Both command lines call
//! down into here; nothing here calls back up.
#![forbid(unsafe_code)]

use crate::config::Config;

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
    crate::preflight::report(&cfg)
}
