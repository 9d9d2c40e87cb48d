//! The rules of `kernel.rs` on the virtual clock: service addresses removed
//! or added by someone else. Moves stay in flight until the test reports
//! them, as the mover would.

use super::test_driver::{ms, settings, timing, Driver};
use super::*;
use crate::config::Mode;
use crate::proto::Kind;

/// dead_after, the base of the repairs' waits.
const DEAD: u64 = 300;

/// A node of `role` in managed mode, started at t = 0; its moves stay in
/// flight until the test reports them.
fn bare(role: Role) -> Driver {
    bare_with_mode(role, Mode::Managed)
}

fn bare_with_mode(role: Role, mode: Mode) -> Driver {
    Driver::new(settings(role, mode, timing(100, DEAD, 300, 0)), 5000)
}

/// What these tests say to and ask of the shared driver.
trait KernelWords {
    /// The peer heard on both networks at `t` (numbered datagrams).
    fn heard(&mut self, t: u64, kind: Kind, flags: u16);
    /// The peer heard on one network only.
    fn heard_on(&mut self, t: u64, net: NetId, kind: Kind, flags: u16);
    /// The primary's heartbeats every 100 ms from `from` to `to`.
    fn alive(&mut self, from: u64, to: u64);
    /// The moves for `reason`: when, which way.
    fn moves_for(&self, reason: Reason) -> Vec<(u64, Direction)>;
    /// Feeds `Input::Kernel(held)` at `t` and says what came of it.
    fn kernel(&mut self, t: u64, held: Held) -> Did;
}

impl KernelWords for Driver {
    fn heard(&mut self, t: u64, kind: Kind, flags: u16) {
        for net in NetId::ALL {
            self.heard_on(t, net, kind, flags);
        }
    }

    fn heard_on(&mut self, t: u64, net: NetId, kind: Kind, flags: u16) {
        let order = Some(Order::of(1, t * 10 + net.index() as u64));
        self.hear(t, net, kind, flags, None, order);
    }

    fn alive(&mut self, from: u64, to: u64) {
        for t in (from..=to).step_by(100) {
            self.until(t);
            self.heard(t, Kind::Heartbeat, Flags::HOLDING);
        }
    }

    fn moves_for(&self, reason: Reason) -> Vec<(u64, Direction)> {
        self.moves().into_iter().filter(|m| m.2 == reason).map(|m| (m.0, m.1)).collect()
    }

    /// Feeds `Input::Kernel(held)` at `t` and says what came of it. During
    /// a move, the move is reported (with what its mover saw: unchanged)
    /// to see what follows.
    fn kernel(&mut self, t: u64, held: Held) -> Did {
        let from = self.actions.len();
        let state = self.e.state();
        let moving = self.e.moving();
        let acts = self.feed(Input::Kernel(held), t);
        let transitions: Vec<(State, State, Reason)> = self.transitions_since(from);
        let moves: Vec<(Direction, Reason)> = acts
            .iter()
            .filter_map(|a| match a {
                Action::Move { dir, reason, .. } => Some((*dir, *reason)),
                _ => None,
            })
            .collect();
        let notices: Vec<Notice> = acts
            .iter()
            .filter_map(|a| match a {
                Action::Notify(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        if let Some((_, dir, _)) = moving {
            assert!(acts.is_empty(), "{state}: acted in the middle of a move: {acts:?}");
            // The mover saw the kernel before the change: it reports what
            // its move meant to leave.
            let seen = if dir == Direction::Acquire { Held::All } else { Held::None };
            let after = self.report(t + 1, seen);
            return match after.contains(&Action::CheckKernel) {
                true => Did::LaterCheck,
                false => Did::Nothing,
            };
        }
        match (transitions.as_slice(), moves.as_slice(), notices.as_slice()) {
            ([], [], []) => Did::Nothing,
            (
                [(_, State::Acquiring, Reason::AddressLost)],
                [(Direction::Acquire, Reason::AddressLost)],
                [Notice::AddressLost { again: 0, .. }],
            ) => Did::PutBack,
            ([], [(Direction::Release, Reason::AddressAdded)], [Notice::AddressAdded { kept: false }]) => {
                assert_eq!(self.e.state(), state, "a removal changes no state");
                assert!(!self.e.flags(self.t0 + ms(t)).has(Flags::HOLDING), "{state}: says it holds");
                Did::Remove
            }
            ([(_, to, Reason::AddressAdded)], [], [Notice::AddressAdded { kept: true }]) => Did::Keep(*to),
            other => panic!("{state}: unexpected {other:?}"),
        }
    }
}

/// A primary that heard its secondary release the addresses and holds
/// them (`active`), at t = 100.
fn active_primary() -> Driver {
    let mut b = bare(Role::Primary);
    b.feed(Input::Kernel(Held::None), 0);
    b.feed(Input::Tick, 0);
    b.heard(50, Kind::Released, 0);
    assert_eq!(b.e.state(), State::Acquiring);
    b.report(100, Held::All);
    assert_eq!(b.e.state(), State::Active);
    b
}

/// A secondary whose primary fell silent at start: holding from t = 300.
fn holding_secondary() -> Driver {
    let mut b = bare(Role::Secondary);
    b.feed(Input::Kernel(Held::None), 0);
    b.until(DEAD);
    assert_eq!(b.e.state(), State::Acquiring);
    b.report(DEAD, Held::All);
    assert_eq!(b.e.state(), State::Holding);
    b
}

/// A secondary that hears its primary (`watching`) at t = 100.
fn watching_secondary() -> Driver {
    let mut b = bare(Role::Secondary);
    b.feed(Input::Kernel(Held::None), 0);
    b.heard(100, Kind::Heartbeat, Flags::HOLDING);
    assert_eq!(b.e.state(), State::Watching);
    b
}

#[test]
fn an_active_primary_puts_a_removed_address_back_at_once() {
    let mut b = active_primary();
    b.feed(Input::Kernel(Held::None), 1_000);
    assert_eq!(b.notices(), vec![(1_000, Notice::AddressLost { again: 0, wait: Duration::ZERO })]);
    assert_eq!(b.moves_for(Reason::AddressLost), vec![(1_000, Direction::Acquire)]);
    assert_eq!(b.transitions().last(), Some(&(State::Active, State::Acquiring, Reason::AddressLost)));
    b.report(1_010, Held::All);
    assert_eq!(b.e.state(), State::Active);
    // One mail, the loss's; the routine put-back adds none.
    assert_eq!(b.notices().len(), 1);
}

#[test]
fn a_holding_secondary_puts_a_removed_address_back_at_once_and_mails_once() {
    let mut b = holding_secondary();
    let before = b.notices().len();
    // One of two addresses gone: less than all, a loss too.
    b.feed(Input::Kernel(Held::Some), 2_000);
    assert_eq!(b.moves_for(Reason::AddressLost), vec![(2_000, Direction::Acquire)]);
    b.report(2_005, Held::All);
    assert_eq!(b.e.state(), State::Holding);
    let new: Vec<Notice> = b.notices().into_iter().skip(before).map(|(_, n)| n).collect();
    assert_eq!(new, vec![Notice::AddressLost { again: 0, wait: Duration::ZERO }]);
}

#[test]
fn an_address_that_keeps_vanishing_is_put_back_ever_later_and_at_once_after_a_quiet_spell() {
    let mut b = active_primary();
    // Something removes the address right after each put-back.
    let mut t = 1_000;
    let mut put_backs = vec![];
    for _ in 0..5 {
        b.feed(Input::Kernel(Held::None), t);
        b.until(t + 100_000);
        let (at, _) = *b.moves_for(Reason::AddressLost).last().unwrap();
        put_backs.push(at);
        b.report(at + 1, Held::All);
        t = at + 2;
    }
    // At once, then dead_after, twice, four times, eight times that.
    let gaps: Vec<u64> = put_backs.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(put_backs[0], 1_000);
    assert_eq!(gaps, vec![DEAD, 2 * DEAD, 4 * DEAD, 8 * DEAD]);
    // Every loss is told, with how long its put-back waits (the mail rate
    // limit spaces out the mails themselves).
    let waits: Vec<(u32, u64)> = b
        .notices()
        .into_iter()
        .filter_map(|(_, n)| match n {
            Notice::AddressLost { again, wait } => Some((again, wait.as_millis() as u64)),
            _ => None,
        })
        .collect();
    assert_eq!(waits, vec![(0, 0), (1, DEAD - 2), (2, 2 * DEAD - 2), (3, 4 * DEAD - 2), (4, 8 * DEAD - 2)]);
    // The wait never passes a minute.
    for _ in 0..10 {
        b.feed(Input::Kernel(Held::None), t);
        b.until(t + 100_000);
        let (at, _) = *b.moves_for(Reason::AddressLost).last().unwrap();
        assert!(at - t <= 60_000, "{}", at - t);
        b.report(at + 1, Held::All);
        t = at + 2;
    }
    // After ten quiet dead_afters (at least 5 s), a loss is an accident
    // again: put back at once.
    let quiet = t + 5_000;
    b.until(quiet);
    b.feed(Input::Kernel(Held::None), quiet);
    assert_eq!(b.moves_for(Reason::AddressLost).last(), Some(&(quiet, Direction::Acquire)));
}

#[test]
fn an_address_back_before_its_put_back_cancels_it() {
    let mut b = active_primary();
    b.feed(Input::Kernel(Held::None), 1_000);
    b.report(1_001, Held::All);
    b.feed(Input::Kernel(Held::None), 1_010);
    assert_eq!(b.moves_for(Reason::AddressLost).len(), 1);
    // The put-back waits on purpose (the simulator's checks leave the
    // node alone meanwhile); no removal does.
    assert!(b.e.repair_pending() && !b.e.removal_pending());
    // Someone puts it back before the wait is over.
    b.feed(Input::Kernel(Held::All), 1_100);
    assert!(!b.e.repair_pending());
    b.until(10_000);
    assert_eq!(b.moves_for(Reason::AddressLost).len(), 1);
    assert_eq!(b.e.state(), State::Active);
}

#[test]
fn a_removal_during_a_move_is_looked_at_after_its_report() {
    let mut b = bare(Role::Primary);
    b.feed(Input::Kernel(Held::None), 0);
    b.heard(50, Kind::Released, 0);
    assert_eq!(b.e.state(), State::Acquiring);
    // The notification of the mover's own add, then of a removal by
    // someone else, both before the report: nothing decided yet.
    b.feed(Input::Kernel(Held::All), 60);
    b.feed(Input::Kernel(Held::None), 70);
    assert!(b.notices().is_empty());
    // The mover looked before the removal: it reports all held.
    let acts = b.report(80, Held::All);
    assert_eq!(b.e.state(), State::Active);
    assert!(acts.contains(&Action::CheckKernel), "{acts:?}");
    // The monitor's look shows the truth.
    b.feed(Input::Kernel(Held::None), 80);
    assert_eq!(b.moves_for(Reason::AddressLost), vec![(80, Direction::Acquire)]);
    // A move that saw no change asks for no look.
    let acts = b.report(90, Held::All);
    assert!(!acts.contains(&Action::CheckKernel), "{acts:?}");
}

#[test]
fn a_partial_takeover_is_not_taken_for_a_loss() {
    let mut b = bare(Role::Secondary);
    b.feed(Input::Kernel(Held::None), 0);
    b.until(DEAD);
    b.report(DEAD, Held::Some);
    assert_eq!(b.e.state(), State::Holding);
    // The notification of the mover's own add: what the report said.
    b.feed(Input::Kernel(Held::Some), DEAD + 5);
    assert!(b.moves_for(Reason::AddressLost).is_empty());
    assert!(!b.notices().iter().any(|(_, n)| matches!(n, Notice::AddressLost { .. })));
    // But losing the rest is a loss.
    b.feed(Input::Kernel(Held::None), DEAD + 10);
    assert_eq!(b.moves_for(Reason::AddressLost), vec![(DEAD + 10, Direction::Acquire)]);
}

#[test]
fn an_address_added_to_a_watching_secondary_is_removed_without_a_change_of_state() {
    let mut b = watching_secondary();
    b.alive(200, 1_000);
    let transitions = b.transitions().len();
    b.feed(Input::Kernel(Held::All), 1_000);
    assert_eq!(b.notices(), vec![(1_000, Notice::AddressAdded { kept: false })]);
    assert_eq!(b.moves_for(Reason::AddressAdded), vec![(1_000, Direction::Release)]);
    // Not holding, and never said to be: the primary serves.
    assert!(!b.e.flags(b.t0 + ms(1_000)).has(Flags::HOLDING));
    let acts = b.report(1_005, Held::None);
    assert!(acts.iter().all(|a| !matches!(a, Action::SendReleased { .. } | Action::Notify(_))), "{acts:?}");
    assert_eq!(b.e.state(), State::Watching);
    assert_eq!(b.transitions().len(), transitions);
    // Added again at once: removed after dead_after, told once more.
    b.heard(1_010, Kind::Heartbeat, Flags::HOLDING);
    b.feed(Input::Kernel(Held::All), 1_010);
    assert_eq!(b.moves_for(Reason::AddressAdded).len(), 1);
    b.heard(1_100, Kind::Heartbeat, Flags::HOLDING);
    b.heard(1_200, Kind::Heartbeat, Flags::HOLDING);
    // dead_after after the first removal began.
    b.until(1_000 + DEAD);
    assert_eq!(
        b.moves_for(Reason::AddressAdded),
        vec![(1_000, Direction::Release), (1_000 + DEAD, Direction::Release)]
    );
    assert_eq!(b.notices().len(), 2);
}

#[test]
fn an_added_address_gone_before_its_removal_is_left_alone() {
    let mut b = watching_secondary();
    b.alive(200, 1_000);
    b.feed(Input::Kernel(Held::All), 1_000);
    b.report(1_001, Held::None);
    b.feed(Input::Kernel(Held::All), 1_010);
    b.feed(Input::Kernel(Held::None), 1_020);
    b.heard(1_100, Kind::Heartbeat, Flags::HOLDING);
    b.heard(1_200, Kind::Heartbeat, Flags::HOLDING);
    b.until(2_000);
    assert_eq!(b.moves_for(Reason::AddressAdded).len(), 1);
}

#[test]
fn a_failed_removal_is_mailed_and_looked_at_again_after_dead_after() {
    let mut b = watching_secondary();
    b.alive(200, 1_000);
    assert!(!b.e.repair_pending() && !b.e.removal_pending());
    b.feed(Input::Kernel(Held::All), 1_000);
    b.report(1_001, Held::All);
    // The simulator's checks leave a node alone while it waits on purpose.
    assert!(b.e.repair_pending() && b.e.removal_pending());
    assert!(b.notices().iter().any(|(_, n)| matches!(
        n,
        Notice::Move { reason: Reason::AddressAdded, outcome: Outcome::Failed, .. }
    )));
    assert_eq!(b.e.state(), State::Watching);
    assert!(!b.e.flags(b.t0 + ms(1_001)).has(Flags::HOLDING));
    // The address watch reports the address again before then: the
    // removal is not tried again, nor mailed again, before its time.
    let notices = b.notices().len();
    b.feed(Input::Kernel(Held::All), 1_050);
    b.heard(1_100, Kind::Heartbeat, Flags::HOLDING);
    b.feed(Input::Kernel(Held::All), 1_150);
    b.heard(1_200, Kind::Heartbeat, Flags::HOLDING);
    assert_eq!(b.moves_for(Reason::AddressAdded), vec![(1_000, Direction::Release)]);
    assert_eq!(b.notices().len(), notices);
    b.until(1_001 + DEAD);
    assert!(b.actions.iter().any(|(t, a)| *t == 1_001 + DEAD && *a == Action::CheckKernel));
    // Gone meanwhile (the operator removed it after all): nothing waits.
    b.feed(Input::Kernel(Held::None), 1_002 + DEAD);
    assert!(!b.e.repair_pending() && !b.e.removal_pending());
}

#[test]
fn an_address_added_while_the_primary_is_silent_is_kept() {
    // The takeover was vetoed by Test: nobody serves, and the primary is
    // silent on both networks. An operator adds the address by hand.
    let mut b = bare(Role::Secondary);
    b.feed(Input::Kernel(Held::None), 0);
    b.until(DEAD);
    let id = b.e.moving().unwrap().0;
    b.feed(Input::Moved(MoveReport { id, held: Held::None, vetoed: true }), DEAD);
    assert_eq!(b.e.state(), State::Vetoed);
    b.until(1_000);
    b.feed(Input::Kernel(Held::All), 1_000);
    assert_eq!(b.e.state(), State::Holding);
    assert_eq!(b.transitions().last(), Some(&(State::Vetoed, State::Holding, Reason::AddressAdded)));
    assert!(b.notices().iter().any(|(_, n)| *n == Notice::AddressAdded { kept: true }));
    assert!(b.moves_for(Reason::AddressAdded).is_empty());
}

#[test]
fn an_address_added_while_another_secondary_serves_is_removed() {
    // The primary is silent, but a second secondary (the same role on both
    // nodes) holds the addresses and outranks us: this node stands by, and
    // an address added here by hand would make two holders.
    let mut b = vetoed_secondary();
    let rival = Flags(Flags::HOLDING | Flags::PUBLIC_UP);
    b.feed(Input::SameRole { flags: rival, outranks: true }, 1_000);
    assert_eq!(b.kernel(1_010, Held::All), Did::Remove);
    assert_eq!(b.e.state(), State::Vetoed);
    // Once the rival is silent for dead_after, the rules of a silent
    // primary apply again: kept.
    b.report(1_011, Held::None);
    b.until(1_000 + DEAD + 10);
    assert_eq!(b.kernel(1_000 + DEAD + 20, Held::All), Did::Keep(State::Holding));
}

#[test]
fn a_claiming_primary_removes_an_address_added_from_outside() {
    let mut b = bare(Role::Primary);
    b.feed(Input::Kernel(Held::None), 0);
    // The secondary holds the addresses and keeps them for now.
    b.heard(50, Kind::Status, Flags::HOLDING);
    assert_eq!(b.e.state(), State::Claiming);
    b.feed(Input::Kernel(Held::All), 100);
    assert_eq!(b.moves_for(Reason::AddressAdded), vec![(100, Direction::Release)]);
    b.report(101, Held::None);
    assert_eq!(b.e.state(), State::Claiming);
    // The claim goes on: the secondary's release still gets them here.
    b.heard(150, Kind::Released, 0);
    assert_eq!(b.e.state(), State::Acquiring);
}

#[test]
fn at_start_the_old_rules_stay() {
    let mut s = bare(Role::Secondary);
    s.feed(Input::Kernel(Held::All), 0);
    assert_eq!(s.transitions(), vec![(State::Starting, State::Holding, Reason::Adopted)]);
    let mut p = bare(Role::Primary);
    p.feed(Input::Kernel(Held::All), 0);
    assert_eq!(p.transitions(), vec![(State::Starting, State::Releasing, Reason::Startup)]);
    assert!(s.notices().is_empty() && p.notices().is_empty());
}

#[test]
fn a_static_primary_leaves_the_addresses_to_the_os() {
    let mut b = bare_with_mode(Role::Primary, Mode::Static);
    b.feed(Input::Kernel(Held::All), 0);
    b.feed(Input::Tick, 0);
    assert_eq!(b.e.state(), State::Active);
    b.feed(Input::Kernel(Held::None), 100);
    b.feed(Input::Kernel(Held::All), 200);
    assert!(b.notices().is_empty());
    assert!(b.actions.iter().all(|(_, a)| !matches!(a, Action::Move { .. })));
}

#[test]
fn while_stopping_nothing_is_repaired() {
    let mut b = active_primary();
    b.feed(Input::Shutdown, 1_000);
    b.report(1_001, Held::None);
    b.feed(Input::Kernel(Held::All), 1_002);
    assert!(b.notices().iter().all(|(_, n)| !matches!(n, Notice::AddressAdded { .. })));
    assert_eq!(b.e.state(), State::Stopped);
}

// Every state, both ways: a service address removed from outside (the
// kernel shows none) and one added from outside (the kernel shows all).
// `kernel.rs` decides in one place; these tables pin down what it decides
// in each state, including in the middle of a move.

/// What the engine did with one `Input::Kernel`.
#[derive(Debug, PartialEq, Eq)]
enum Did {
    /// Nothing at all: no move, no notice, no transition.
    Nothing,
    /// Put the addresses back at once (`address-lost`): the state goes to
    /// acquiring, a move starts, and the loss is told.
    PutBack,
    /// Removed them (`address-added`) without a change of state.
    Remove,
    /// Kept them (`address-added`): the state goes to the holding one.
    Keep(State),
    /// Decided nothing during the move, and asks to look again after it.
    LaterCheck,
}

/// A primary in `Standby`: stood down by an operator, at t = 120.
fn standby_primary() -> Driver {
    let mut b = active_primary();
    b.heard(110, Kind::Heartbeat, 0);
    b.feed(Input::Command(Command::Release), 110);
    assert_eq!(b.e.state(), State::Releasing);
    b.report(120, Held::None);
    assert_eq!(b.e.state(), State::Standby);
    b
}

/// A primary whose public link went down (`PublicDown`), at t = 120.
fn public_down_primary() -> Driver {
    let mut b = active_primary();
    b.feed(Input::Link { net: NetId::Public, up: false }, 110);
    assert_eq!(b.e.state(), State::Releasing);
    b.report(120, Held::None);
    assert_eq!(b.e.state(), State::PublicDown);
    b
}

/// A primary whose checks fail, with a fit secondary heard (`Unfit`).
fn unfit_primary() -> Driver {
    let mut b = active_primary();
    b.heard(110, Kind::Status, Flags::PUBLIC_UP | Flags::PRIVATE_UP);
    b.feed(Input::Fitness { fit: false }, 110);
    assert_eq!(b.e.state(), State::Releasing);
    b.report(120, Held::None);
    assert_eq!(b.e.state(), State::Unfit);
    b
}

/// A primary whose acquire failed (`Failed`), at t = 100.
fn failed_primary() -> Driver {
    let mut b = bare(Role::Primary);
    b.feed(Input::Kernel(Held::None), 0);
    b.feed(Input::Tick, 0);
    b.heard(50, Kind::Released, 0);
    b.report(100, Held::None);
    assert_eq!(b.e.state(), State::Failed);
    b
}

/// A claiming primary (the secondary holds the addresses), at t = 50.
fn claiming_primary() -> Driver {
    let mut b = bare(Role::Primary);
    b.feed(Input::Kernel(Held::None), 0);
    b.heard(50, Kind::Status, Flags::HOLDING);
    assert_eq!(b.e.state(), State::Claiming);
    b
}

/// A primary taking its addresses (`Acquiring`, its move in flight).
fn acquiring_primary() -> Driver {
    let mut b = bare(Role::Primary);
    b.feed(Input::Kernel(Held::None), 0);
    b.feed(Input::Tick, 0);
    b.heard(50, Kind::Released, 0);
    assert_eq!(b.e.state(), State::Acquiring);
    b
}

/// An active primary dropping its addresses for an operator
/// (`Releasing`, its move in flight).
fn releasing_primary() -> Driver {
    let mut b = active_primary();
    b.heard(110, Kind::Heartbeat, 0);
    b.feed(Input::Command(Command::Release), 110);
    assert_eq!(b.e.state(), State::Releasing);
    b
}

/// A secondary that hears the primary on `net` only, for longer than
/// dead_after (`Anomaly` of the other network), at t = 1_000.
fn anomaly_secondary(silent: NetId) -> Driver {
    let mut b = watching_secondary();
    let heard = NetId::ALL.into_iter().find(|&n| n != silent).unwrap();
    for t in (200..=1_000).step_by(100) {
        b.until(t);
        b.heard_on(t, heard, Kind::Heartbeat, Flags::HOLDING);
    }
    assert_eq!(b.e.state(), State::Anomaly(silent));
    b
}

/// A secondary whose own public link is down and whose primary is silent
/// (`Isolated`), at t = 1_000.
fn isolated_secondary() -> Driver {
    let mut b = watching_secondary();
    b.feed(Input::Link { net: NetId::Public, up: false }, 150);
    b.until(1_000);
    assert_eq!(b.e.state(), State::Isolated);
    b
}

/// A secondary taking over (`Acquiring`, its move in flight).
fn acquiring_secondary() -> Driver {
    let mut b = bare(Role::Secondary);
    b.feed(Input::Kernel(Held::None), 0);
    b.until(DEAD);
    assert_eq!(b.e.state(), State::Acquiring);
    b
}

/// A holding secondary dropping the addresses, its public link down
/// (`Releasing`, its move in flight).
fn releasing_secondary() -> Driver {
    let mut b = holding_secondary();
    b.feed(Input::Link { net: NetId::Public, up: false }, DEAD + 10);
    assert_eq!(b.e.state(), State::Releasing);
    b
}

/// A secondary whose takeover failed, the primary still silent (`Failed`).
fn failed_secondary() -> Driver {
    let mut b = acquiring_secondary();
    b.report(DEAD, Held::None);
    assert_eq!(b.e.state(), State::Failed);
    b
}

/// A secondary whose takeover `Test` refused, the primary silent.
fn vetoed_secondary() -> Driver {
    let mut b = acquiring_secondary();
    let id = b.e.moving().unwrap().0;
    b.feed(Input::Moved(MoveReport { id, held: Held::None, vetoed: true }), DEAD);
    assert_eq!(b.e.state(), State::Vetoed);
    b
}

/// A stopped daemon (its addresses removed on shutdown).
fn stopped_primary() -> Driver {
    let mut b = active_primary();
    b.feed(Input::Shutdown, 110);
    b.report(120, Held::None);
    assert_eq!(b.e.state(), State::Stopped);
    b
}

/// A state's name, its builder, and what an address removed from outside
/// and one added from outside do there.
type Case = (&'static str, fn() -> Driver, Did, Did);

/// Every state a node can be in after start.
fn every_state() -> Vec<Case> {
    vec![
        ("active primary", active_primary, Did::PutBack, Did::Nothing),
        ("holding secondary", holding_secondary, Did::PutBack, Did::Nothing),
        ("acquiring primary (move)", acquiring_primary, Did::LaterCheck, Did::LaterCheck),
        ("acquiring secondary (move)", acquiring_secondary, Did::LaterCheck, Did::LaterCheck),
        ("releasing primary (move)", releasing_primary, Did::LaterCheck, Did::LaterCheck),
        ("releasing secondary (move)", releasing_secondary, Did::LaterCheck, Did::LaterCheck),
        ("watching secondary", watching_secondary, Did::Nothing, Did::Remove),
        ("anomaly (public) secondary", || anomaly_secondary(NetId::Public), Did::Nothing, Did::Remove),
        ("anomaly (private) secondary", || anomaly_secondary(NetId::Private), Did::Nothing, Did::Remove),
        ("isolated secondary", isolated_secondary, Did::Nothing, Did::Remove),
        ("claiming primary", claiming_primary, Did::Nothing, Did::Remove),
        ("standby primary", standby_primary, Did::Nothing, Did::Remove),
        ("public-down primary", public_down_primary, Did::Nothing, Did::Remove),
        ("unfit primary", unfit_primary, Did::Nothing, Did::Remove),
        ("failed secondary, primary silent", failed_secondary, Did::Nothing, Did::Keep(State::Holding)),
        ("vetoed secondary, primary silent", vetoed_secondary, Did::Nothing, Did::Keep(State::Holding)),
        ("failed primary", failed_primary, Did::Nothing, Did::Keep(State::Active)),
        ("stopped", stopped_primary, Did::Nothing, Did::Nothing),
    ]
}

/// The time of the builder's last step, plus a little.
fn next_t(b: &Driver) -> u64 {
    b.actions.last().map_or(0, |(t, _)| *t) + 5
}

#[test]
fn an_address_removed_from_outside_in_every_state() {
    for (name, build, lost, _) in every_state() {
        let mut b = build();
        let t = next_t(&b);
        // Removed from outside: the kernel shows none.
        let did = b.kernel(t, Held::None);
        assert_eq!(did, lost, "{name}");
        if did == Did::PutBack {
            // Put back, and the node serves again, without more mail.
            let notices = b.notices().len();
            b.report(t + 2, Held::All);
            assert!(matches!(b.e.state(), State::Active | State::Holding), "{name}: {}", b.e.state());
            assert_eq!(b.notices().len(), notices, "{name}: the put-back mailed again");
        }
    }
}

#[test]
fn an_address_added_from_outside_in_every_state() {
    for (name, build, _, added) in every_state() {
        let mut b = build();
        let t = next_t(&b);
        // Added from outside: the kernel shows them all.
        let did = b.kernel(t, Held::All);
        assert_eq!(did, added, "{name}");
        if did == Did::Remove {
            let state = b.e.state();
            let acts = b.report(t + 2, Held::None);
            // Removed: nothing told, nothing sent, the state unchanged.
            assert!(
                acts.iter().all(|a| !matches!(
                    a,
                    Action::Notify(_)
                        | Action::Transition(_)
                        | Action::SendReleased { .. }
                        | Action::SendGoodbye
                )),
                "{name}: {acts:?}"
            );
            assert_eq!(b.e.state(), state, "{name}");
        }
    }
}

#[test]
fn after_a_move_the_look_again_decides_by_the_same_rules() {
    // An address removed during a takeover: put back once it is in.
    let mut b = acquiring_secondary();
    assert_eq!(b.kernel(DEAD + 1, Held::None), Did::LaterCheck);
    assert_eq!(b.e.state(), State::Holding);
    assert_eq!(b.kernel(DEAD + 3, Held::None), Did::PutBack);
    // One added during a give-back: removed once it is over.
    let mut b = releasing_secondary();
    assert_eq!(b.kernel(DEAD + 20, Held::All), Did::LaterCheck);
    assert_eq!(b.e.state(), State::Watching);
    assert_eq!(b.kernel(DEAD + 22, Held::All), Did::Remove);
    // An operator's stand-down: an address added meanwhile is removed
    // once the primary is standing by.
    let mut b = releasing_primary();
    assert_eq!(b.kernel(120, Held::All), Did::LaterCheck);
    assert_eq!(b.e.state(), State::Standby);
    assert_eq!(b.kernel(122, Held::All), Did::Remove);
    // One removed during a give-back is what the give-back wanted.
    let mut b = releasing_primary();
    assert_eq!(b.kernel(120, Held::None), Did::LaterCheck);
    assert_eq!(b.kernel(122, Held::None), Did::Nothing);
    assert_eq!(b.e.state(), State::Standby);
}

/// Found by the simulator (seed 68, with the address watch): a primary
/// that declares the addresses free (standby, public link down, unfit)
/// and finds one added from outside that it cannot remove must stop
/// declaring them free, or the secondary adds it beside ours.
#[test]
fn a_failed_removal_ends_the_declaration_that_the_addresses_are_free() {
    for (name, mut b) in
        [("standby", standby_primary()), ("unfit", unfit_primary()), ("public-down", public_down_primary())]
    {
        assert!(b.e.flags(b.t0 + ms(120)).has(Flags::ADDRESS_FREE), "{name}: {}", b.e.state());
        b.feed(Input::Kernel(Held::Some), 121);
        if b.e.moving().is_none() {
            // Public link down: the removal waits; nothing is free meanwhile.
            assert!(!b.e.flags(b.t0 + ms(131)).has(Flags::ADDRESS_FREE), "{name}");
            continue;
        }
        b.report(135, Held::Some);
        assert!(b.e.has_addresses(), "{name}");
        assert!(!b.e.flags(b.t0 + ms(136)).has(Flags::ADDRESS_FREE), "{name}: free while an address is here");
        // Removed at the next look: free again.
        b.until(136 + DEAD + 10);
        if b.e.moving().is_some() {
            b.report(136 + DEAD + 20, Held::None);
        } else {
            b.feed(Input::Kernel(Held::None), 136 + DEAD + 20);
        }
        let free = matches!(b.e.state(), State::Standby | State::Unfit | State::PublicDown);
        assert!(!free || b.e.flags(b.t0 + ms(136 + DEAD + 30)).has(Flags::ADDRESS_FREE), "{name}");
    }
}

/// One move at a time (simulator, invariant (l), seed 41 once it was
/// checked): a `released` that comes while a claiming primary removes an
/// address added by hand does not start the acquire beside the removal;
/// the acquire follows the removal's report.
#[test]
fn a_released_during_the_removal_of_an_added_address_waits_for_it() {
    let mut b = claiming_primary();
    b.feed(Input::Kernel(Held::Some), 100);
    assert_eq!(b.moves_for(Reason::AddressAdded), vec![(100, Direction::Release)]);
    b.heard(150, Kind::Released, 0);
    assert!(b.moves_for(Reason::Released).is_empty(), "{:?}", b.actions);
    assert_eq!(b.e.state(), State::Claiming);
    b.report(200, Held::None);
    assert_eq!(b.moves_for(Reason::Released), vec![(200, Direction::Acquire)]);
    assert_eq!(b.e.state(), State::Acquiring);
}

/// The same for a goodbye that comes while a watching secondary removes an
/// address added by hand: no acquire beside the removal; the watch takes
/// over once it is done, as after a goodbye it could not act on (its
/// public link down): nothing heard since, dead_after after the primary
/// was last counted alive.
#[test]
fn a_goodbye_during_the_removal_of_an_added_address_waits_for_it() {
    let mut b = watching_secondary();
    b.feed(Input::Kernel(Held::All), 150);
    assert_eq!(b.moves_for(Reason::AddressAdded), vec![(150, Direction::Release)]);
    b.heard(160, Kind::Goodbye, 0);
    assert!(b.e.moving().is_some_and(|(_, _, r)| r == Reason::AddressAdded), "{:?}", b.actions);
    b.report(170, Held::None);
    b.until(100 + DEAD);
    let acquires: Vec<u64> = b
        .actions
        .iter()
        .filter(|(_, a)| matches!(a, Action::Move { dir: Direction::Acquire, .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(acquires, vec![100 + DEAD], "{:?}", b.actions);
}
