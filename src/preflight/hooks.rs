//! `-n`: the hooks under scripts_dir as the daemon will find them: those
//! the secondary would skip are errors; a secondary without its scripts
//! directory, or hooks on a primary, are warnings.

use crate::config::{Config, ConfigError, Role};
use std::path::Path;

/// Every hook the secondary would skip (an unsafe file or directory on the
/// way to it, see `hooks::discover`), as `-n` errors at `scripts_dir`.
/// Hooks only run on the secondary.
pub(super) fn skipped(cfg: &Config) -> Vec<ConfigError> {
    use crate::hooks::{discover, Stage};
    if cfg.role != Role::Secondary {
        return Vec::new();
    }
    let stages = [Stage::Test, Stage::PreAcq, Stage::PostAcq, Stage::PreRel, Stage::PostRel];
    cfg.addresses
        .iter()
        .flat_map(|a| stages.iter().flat_map(move |&stage| discover(&cfg.scripts_dir, a, stage).1))
        .map(|skipped| ConfigError {
            file: cfg.file.clone(),
            line: cfg.line_of("scripts_dir"),
            message: skipped.to_string(),
        })
        .collect()
}

/// A secondary without its scripts directory runs no hooks (said, since
/// the operator may have put them elsewhere); hooks on the primary never
/// run there.
pub(super) fn warnings(cfg: &Config) -> Vec<ConfigError> {
    let mut warnings = Vec::new();
    let at =
        |message: String| ConfigError { file: cfg.file.clone(), line: cfg.line_of("scripts_dir"), message };
    let dir = &cfg.scripts_dir;
    match cfg.role {
        Role::Secondary if !dir.exists() => warnings.push(at(format!(
            "scripts_dir {} does not exist: no hooks will run (hooks go in {}/<service address>/)",
            dir.display(),
            dir.display()
        ))),
        Role::Primary => {
            for a in &cfg.addresses {
                let hooks = dir.join(a.addr.to_string());
                if has_entries(&hooks) {
                    warnings.push(at(format!(
                        "hooks in {} are never run on the primary: hooks run only on the secondary",
                        hooks.display()
                    )));
                }
            }
        }
        Role::Secondary => {}
    }
    warnings
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
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
        impl crate::config::SystemView for NoLookups {
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
        let cfg = crate::config::parse(&text, "t.conf", &NoLookups).unwrap();
        assert!(skipped(&cfg).is_empty());
        std::fs::set_permissions(&hooks, std::fs::Permissions::from_mode(0o775)).unwrap();
        let found: Vec<String> = skipped(&cfg).iter().map(|e| e.to_string()).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found.iter().all(|e| e.starts_with("t.conf:6: skipping hook") && e.contains("mode 0775")),
            "{found:?}"
        );
        let primary =
            crate::config::parse(&text.replace("secondary", "primary"), "t.conf", &NoLookups).unwrap();
        assert!(skipped(&primary).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
