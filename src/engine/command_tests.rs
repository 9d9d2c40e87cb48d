//! The operator's commands (`command.rs`) in every state that decides
//! their answer: each refusal and each "nothing to do" says so and leaves
//! the node as it was; each accepted command does what its answer says.
//! On a virtual clock: interval 100 ms, dead_after 300 ms.

use super::test_driver::{ms, settings, timing, Driver};
use super::*;
use crate::config::Mode;
use crate::proto::Kind;

const UP: u16 = Flags::PUBLIC_UP | Flags::PRIVATE_UP;

/// A node of `role` (takeover_probe `probe` ms) whose moves succeed at
/// once, started at 0.
fn node(role: Role, probe: u64) -> Driver {
    let mut d = Driver::new(settings(role, Mode::Managed, timing(100, 300, 300, probe)), 1000);
    d.answer = true;
    d.feed(Input::Tick, 0);
    d
}

/// The peer's `kind` with `flags` on both networks at `at`.
fn peer(d: &mut Driver, at: u64, kind: Kind, flags: u16) {
    d.hear_both(at, kind, flags);
}

/// The operator's `c` at `at`: its answer, and whether the node changed
/// state or asked for a move because of it.
fn command(d: &mut Driver, at: u64, c: Command) -> (Result<String, String>, bool) {
    let actions = d.feed(Input::Command(c), at);
    let answer = actions.iter().find_map(|a| match a {
        Action::Answer(r) => Some(r.clone()),
        _ => None,
    });
    let acted = actions
        .iter()
        .any(|a| matches!(a, Action::Transition(_) | Action::Move { .. } | Action::Probe { .. }));
    (answer.expect("every command is answered"), acted)
}

fn ok(text: &str) -> Result<String, String> {
    Ok(text.to_string())
}

/// A primary that holds the addresses (it probed them free at start).
fn active_primary() -> Driver {
    let mut d = node(Role::Primary, 0);
    d.until(1_000);
    let id = last_probe(&d.actions);
    d.feed(Input::Probed { id, free: Some(true) }, 1_000);
    assert_eq!(d.e.state(), State::Active);
    d
}

#[test]
fn a_node_that_holds_the_addresses_already_says_so_to_takeover() {
    let mut p = active_primary();
    assert_eq!(
        command(&mut p, 1_100, Command::Takeover),
        (ok("this node already holds the addresses"), false)
    );
    assert_eq!(p.e.state(), State::Active);

    // A secondary that took over when nothing was heard.
    let mut s = node(Role::Secondary, 0);
    s.until(1_000);
    assert_eq!(s.e.state(), State::Holding);
    assert_eq!(
        command(&mut s, 1_100, Command::Takeover),
        (ok("this node already holds the addresses"), false)
    );
    assert_eq!(s.e.state(), State::Holding);
}

#[test]
fn a_node_without_the_addresses_says_so_to_release() {
    let mut s = node(Role::Secondary, 0);
    for at in (0..=1_000).step_by(100) {
        peer(&mut s, at, Kind::Heartbeat, UP | Flags::HOLDING);
        s.until(at);
    }
    assert_eq!(s.e.state(), State::Watching);
    assert_eq!(
        command(&mut s, 1_010, Command::Release),
        (ok("this node does not hold the addresses"), false)
    );
    assert_eq!(s.e.state(), State::Watching);
}

#[test]
fn release_while_claiming_stands_the_primary_down() {
    let mut p = node(Role::Primary, 0);
    p.until(500);
    assert_eq!(p.e.state(), State::Claiming);
    let (answer, acted) = command(&mut p, 510, Command::Release);
    assert_eq!(answer, ok("no longer claiming; the addresses are declared free for the secondary"));
    assert!(acted);
    assert_eq!(p.e.state(), State::Standby);
    assert!(p.e.flags(p.t0 + ms(510)).has(Flags::ADDRESS_FREE));
}

#[test]
fn takeover_without_the_public_link_is_refused() {
    let mut s = node(Role::Secondary, 0);
    s.feed(Input::Link { net: NetId::Public, up: false }, 0);
    s.until(1_000);
    assert!(!s.e.holding());
    let (answer, acted) = command(&mut s, 1_010, Command::Takeover);
    assert_eq!(answer, Err("our public link is down: taking the addresses would serve nobody".to_string()));
    assert!(!acted && !s.e.holding());
}

/// An unfit primary whose secondary is heard and can serve leaves the
/// addresses there: its takeover is refused, not turned into a claim.
#[test]
fn an_unfit_primary_does_not_claim_from_a_secondary_that_can_serve() {
    let mut p = node(Role::Primary, 0);
    p.feed(Input::Fitness { fit: false }, 0);
    for at in (0..=600).step_by(100) {
        peer(&mut p, at, Kind::Status, UP | Flags::HOLDING);
        p.until(at);
    }
    let before = p.e.state();
    let (answer, acted) = command(&mut p, 610, Command::Takeover);
    let refused = "our service checks fail: the addresses stay with the secondary, whose checks pass (fix the service here first)";
    assert_eq!(answer, Err(refused.to_string()));
    assert!(!acted);
    assert_eq!(p.e.state(), before);
}

/// While stopping, every command is refused with the reason, also when no
/// move is in progress (a removal failed and waits for its retry).
#[test]
fn commands_while_stopping_are_refused() {
    let mut s = node(Role::Secondary, 0);
    s.after_release = Held::All;
    s.until(1_000);
    assert_eq!(s.e.state(), State::Holding);
    s.feed(Input::Shutdown, 1_000);
    assert!(s.e.stopping() && s.e.moving().is_none(), "{:?}", s.e.state());
    for c in [Command::Takeover, Command::Release] {
        let (answer, acted) = command(&mut s, 1_010, c);
        assert_eq!(answer, Err("the daemon is stopping".to_string()), "{c:?}");
        assert!(!acted, "{c:?}");
    }
}

/// A primary that declared the addresses free (stood down) is no one to
/// probe for: the secondary's manual takeover adds them at once, also with
/// the takeover probe on. Here the secondary's own checks fail, so it did
/// not take them over by itself.
#[test]
fn a_manual_takeover_from_a_primary_that_declared_them_free_does_not_probe() {
    let mut s = node(Role::Secondary, 20);
    s.feed(Input::Fitness { fit: false }, 0);
    for at in (0..=600).step_by(100) {
        peer(&mut s, at, Kind::Heartbeat, UP | Flags::ADDRESS_FREE);
        s.until(at);
    }
    assert!(!s.e.holding(), "{:?}", s.e.state());
    let probes = s.probes().len();
    assert_eq!(command(&mut s, 610, Command::Takeover), (ok("taking the addresses over"), true));
    assert_eq!(s.probes().len(), probes);
    assert!(s.e.holding());
}
