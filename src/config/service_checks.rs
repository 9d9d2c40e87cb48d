//! Service health checks (docs/design.md §9): `check = NAME PROGRAM [ARGS...]` and the
//! timing keys, each either global (`check_fall = 3`) or for one check
//! (`check_fall = web 5`). A check's own value wins over the global one,
//! which wins over the default; `check_timeout` defaults to the check's
//! interval.

use super::keys::Problem;
use super::values::{duration_in, number, path};
use super::Config;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub(super) const MAX_NAME: usize = 32;

/// One `check` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// A timing key of checks: its global value and the checks' own values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerCheck<T> {
    pub global: Option<T>,
    pub by_name: BTreeMap<String, T>,
}

impl<T> Default for PerCheck<T> {
    fn default() -> Self {
        PerCheck { global: None, by_name: BTreeMap::new() }
    }
}

impl<T: Copy> PerCheck<T> {
    /// The check's own value, else the global one.
    pub(crate) fn get(&self, name: &str) -> Option<T> {
        self.by_name.get(name).copied().or(self.global)
    }
}

/// A service check's timing in force, as `Config::check_timing` works it
/// out for the check's worker (`daemon/checks/`); named apart from the
/// engine's `Timing` of the heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckTiming {
    pub interval: Duration,
    pub timeout: Duration,
    pub fall: u32,
    pub rise: u32,
}

pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
pub(super) const DEFAULT_FALL: u32 = 3;
pub(super) const DEFAULT_RISE: u32 = 2;

impl Config {
    /// The timing in force for `check`: its own lines, then the global
    /// ones, then the defaults (the timeout defaults to the interval).
    pub(crate) fn check_timing(&self, check: &Check) -> CheckTiming {
        let n = check.name.as_str();
        let interval = self.check_interval.get(n).unwrap_or(DEFAULT_INTERVAL);
        CheckTiming {
            interval,
            timeout: self.check_timeout.get(n).unwrap_or(interval),
            fall: self.check_fall.get(n).unwrap_or(DEFAULT_FALL),
            rise: self.check_rise.get(n).unwrap_or(DEFAULT_RISE),
        }
    }
}

/// `[a-z0-9_-]{1,32}`: a name that is safe in the log, the environment,
/// status and JSON without quoting.
pub(super) fn name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("check name {s:?} must be 1 to {MAX_NAME} of a-z, 0-9, _ and -"))
    }
}

/// `check = NAME PROGRAM [ARGS...]`; arguments are split at white space.
pub(super) fn check(c: &mut Config, v: &str, line: usize) -> Result<(), Problem> {
    let mut words = v.split_whitespace();
    let (Some(n), Some(p)) = (words.next(), words.next()) else {
        return Err(Problem::Value("expected 'check = NAME PROGRAM [ARGS...]'".to_string()));
    };
    let (name, program) = match (name(n), path(p)) {
        (Ok(n), Ok(p)) => (n, p),
        (n, p) => return Err(Problem::Values(n.err().into_iter().chain(p.err()).collect())),
    };
    if let Some(i) = c.checks.iter().position(|k| k.name == name) {
        let first = c.lines.checks.get(i).copied().unwrap_or(0);
        return Err(Problem::Plain(format!("check {name} is already defined on line {first}")));
    }
    let args = words.map(str::to_string).collect();
    c.checks.push(Check { name, program, args });
    c.lines.checks.push(line);
    Ok(())
}

/// Which timing key a line sets.
#[derive(Clone, Copy)]
pub(super) enum Which {
    Interval,
    Timeout,
    Fall,
    Rise,
}

impl Which {
    fn key(self) -> &'static str {
        match self {
            Which::Interval => "check_interval",
            Which::Timeout => "check_timeout",
            Which::Fall => "check_fall",
            Which::Rise => "check_rise",
        }
    }
}

/// `check_interval = VALUE` (global) or `check_interval = NAME VALUE`, and
/// the same for the other timing keys. Each may be set once globally and
/// once per check; a check's line may come before or after its `check`.
pub(super) fn timing(which: Which, c: &mut Config, v: &str, line: usize) -> Result<(), Problem> {
    let key = which.key();
    let words: Vec<&str> = v.split_whitespace().collect();
    let (target, value) = match words[..] {
        [value] => (None, value),
        [n, value] => (Some(n), value),
        _ => return Err(Problem::Value(format!("expected '{key} = VALUE' or '{key} = CHECK VALUE'"))),
    };
    if let Some(n) = target {
        if !c.checks.iter().any(|k| k.name == n) {
            return Err(Problem::Value(format!("no check named {n:?} (check = {n} PROGRAM ...)")));
        }
    }
    let at = (target.unwrap_or("").to_string(), key);
    if let Some(first) = c.lines.check_keys.get(&at) {
        let whose = target.map_or(String::new(), |n| format!(" for check {n}"));
        return Err(Problem::Plain(format!("{key}{whose} is already set on line {first}")));
    }
    let ms = Duration::from_millis;
    match which {
        Which::Interval => set(&mut c.check_interval, target, duration_in(value, ms(100), ms(3_600_000))?),
        Which::Timeout => set(&mut c.check_timeout, target, duration_in(value, ms(10), ms(3_600_000))?),
        Which::Fall => set(&mut c.check_fall, target, number(value, 1u32, 100)?),
        Which::Rise => set(&mut c.check_rise, target, number(value, 1u32, 100)?),
    }
    c.lines.check_keys.insert(at, line);
    Ok(())
}

fn set<T>(slot: &mut PerCheck<T>, target: Option<&str>, value: T) {
    match target {
        None => slot.global = Some(value),
        Some(n) => {
            slot.by_name.insert(n.to_string(), value);
        }
    }
}
