//! `-n`: the files and directories the configuration names, as the daemon
//! will find them: the key, the check programs, scripts_dir, sendmail, the
//! state directory, and the directories of the pidfile and control socket.

use crate::config::{Config, ConfigError};

/// The key, the check programs, scripts_dir, sendmail and state_dir, in
/// that order.
pub(super) fn problems(cfg: &Config) -> Vec<ConfigError> {
    let at = |line: usize, message: String| ConfigError { file: cfg.file.clone(), line, message };
    let mut out = Vec::new();
    if let Some(key) = &cfg.auth_key_file {
        if let Err(e) = crate::keyfile::read_key_file(key) {
            out.push(at(cfg.line_of("auth_key_file"), e));
        }
    }
    out.extend(check_programs(cfg).into_iter().map(|(line, message)| at(line, message)));
    out.extend(mail_and_scripts(cfg));
    out.extend(state_dir(cfg));
    out
}

/// Each check's program exists and passes the hooks' rules
/// (`hooks::open_program`): a regular executable file owned by root and
/// writable by nobody else, reached through directories that are root's
/// and writable by nobody else.
fn check_programs(cfg: &Config) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, k) in cfg.checks.iter().enumerate() {
        let line = cfg.lines.checks.get(i).copied().unwrap_or(0);
        if let Err(why) = crate::hooks::open_program(&k.program) {
            out.push((line, format!("check {}: program {}: {why}", k.name, k.program.display())));
        }
    }
    out
}

/// scripts_dir, when it exists, can be read; sendmail exists.
fn mail_and_scripts(cfg: &Config) -> Vec<ConfigError> {
    let at = |line: usize, message: String| ConfigError { file: cfg.file.clone(), line, message };
    let mut out = Vec::new();
    let scripts = &cfg.scripts_dir;
    if scripts.exists() && std::fs::read_dir(scripts).is_err() {
        out.push(at(
            cfg.line_of("scripts_dir"),
            format!("scripts_dir {} is not a readable directory", scripts.display()),
        ));
    }
    if !cfg.sendmail.exists() {
        out.push(at(
            cfg.line_of("sendmail"),
            format!(
                "sendmail {} does not exist: mail cannot be sent (install an MTA or set sendmail)",
                cfg.sendmail.display()
            ),
        ));
    }
    out
}

/// state_dir's parent exists, and the directory is one the start accepts.
fn state_dir(cfg: &Config) -> Vec<ConfigError> {
    let at =
        |message: String| ConfigError { file: cfg.file.clone(), line: cfg.line_of("state_dir"), message };
    let mut out = Vec::new();
    if let Some(parent) = cfg.state_dir.parent() {
        if !parent.is_dir() {
            out.push(at(format!(
                "state_dir {}: its parent directory does not exist",
                cfg.state_dir.display()
            )));
        }
    }
    // The start refuses such a directory (`proto/store.rs`); its mode or
    // owner is the fix.
    if let Some(fix) = crate::proto::store::dir_advice(&cfg.state_dir) {
        out.push(at(format!("state_dir {fix}")));
    }
    out
}

/// The directories of the pidfile and the control socket exist: the start
/// creates neither.
pub(super) fn run_directories(cfg: &Config) -> Vec<ConfigError> {
    let mut out = Vec::new();
    for (key, path) in [("pidfile", &cfg.pidfile), ("control_socket", &cfg.control_socket)] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                out.push(ConfigError {
                    file: cfg.file.clone(),
                    line: cfg.line_of(key),
                    message: format!(
                        "{key} {}: the directory {} does not exist, so the daemon cannot start; create it \
                         or choose another path",
                        path.display(),
                        dir.display()
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{ok, SECONDARY};

    #[test]
    fn check_programs_are_refused_like_hooks() {
        use std::os::unix::fs::PermissionsExt;
        // The scratch directory is ours: root's only when we are root.
        if !crate::root_or_skip("check_programs_are_refused_like_hooks") {
            return;
        }
        let d = std::env::temp_dir().join(format!("ipfo-checkprog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let writable = d.join("writable");
        std::fs::write(&writable, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o777)).unwrap();
        let c = ok(&format!(
            "{SECONDARY}check = fine /bin/sh -c true\ncheck = gone {0}/missing\ncheck = open {0}/writable\ncheck = dir {0}\n",
            d.display()
        ));
        let n = SECONDARY.lines().count();
        let found = check_programs(&c);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [n + 2, n + 3, n + 4], "{found:?}");
        assert!(
            found[0].1.starts_with("check gone: program ") && found[0].1.contains("No such file"),
            "{found:?}"
        );
        // As root: writable by others; as anyone else: not root's.
        assert!(
            found[1].1.contains("group- or world-writable") || found[1].1.contains("not root"),
            "{found:?}"
        );
        assert!(found[2].1.ends_with("not a regular file"), "{found:?}");
        // The directory on the way counts too.
        std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let found = check_programs(&c);
        let why =
            format!("check open: program {}: directory {} has mode 0777", writable.display(), d.display());
        assert!(found.iter().any(|(l, m)| *l == n + 3 && m.starts_with(&why)), "{found:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
