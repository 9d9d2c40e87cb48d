//! Issue 32, item 1: the secondary's takeover probe starts before the
//! silence on both networks reaches dead_after (`probe_lead` before it),
//! while the datagrams are still listened for; the takeover itself stays
//! at dead_after. On a virtual clock: interval 100 ms, dead_after 300 ms,
//! a probe of 20 ms, so the probe starts 41 ms before dead_after.

use super::test_driver::{settings, timing, Driver};
use super::*;
use crate::config::Mode;
use crate::proto::Kind;

const DEAD: u64 = 300;
/// The probe's lead: twice its 20 ms and 1 ms.
const LEAD: u64 = 41;

/// A secondary (takeover_probe `probe` ms) that heard its primary on both
/// networks at t = 0; its moves succeed at once (the kernel shows every
/// address after either way).
fn drive(probe: u64) -> Driver {
    let mut d = Driver::new(settings(Role::Secondary, Mode::Managed, timing(100, DEAD, DEAD, probe)), 1000);
    d.answer = true;
    d.after_release = Held::All;
    d.heard(0, &NetId::ALL);
    d
}

/// What these tests say to and ask of the shared driver.
trait ProbeWords {
    /// The primary's heartbeat at `at` on `nets`.
    fn heard(&mut self, at: u64, nets: &[NetId]);
    /// When the takeovers (acquiring moves) started, and their details.
    fn takeovers(&self) -> Vec<(u64, String)>;
    /// The "another host answers" mails.
    fn blocked_mails(&self) -> usize;
}

impl ProbeWords for Driver {
    fn heard(&mut self, at: u64, nets: &[NetId]) {
        for &net in nets {
            self.hear(at, net, Kind::Heartbeat, 0, None, None);
        }
    }

    fn takeovers(&self) -> Vec<(u64, String)> {
        let t = self.actions.iter().filter_map(|(at, a)| match a {
            Action::Transition(t) if t.to == State::Acquiring => Some((*at, t.detail.clone())),
            _ => None,
        });
        t.collect()
    }

    fn blocked_mails(&self) -> usize {
        self.actions.iter().filter(|(_, a)| matches!(a, Action::Notify(Notice::TakeoverBlocked))).count()
    }
}

/// The probe starts at dead_after less its lead; its answer "free" before
/// dead_after takes nothing yet; the takeover comes at dead_after exactly,
/// with no second probe.
#[test]
fn the_probe_starts_before_dead_after_and_the_takeover_comes_at_dead_after() {
    let mut d = drive(20);
    d.until(DEAD - LEAD - 1);
    assert!(d.probes().is_empty(), "no probe before dead_after less the lead");
    d.until(DEAD - LEAD);
    let probes = d.probes();
    assert_eq!(probes.iter().map(|p| p.0).collect::<Vec<_>>(), vec![DEAD - LEAD]);
    d.feed(Input::Probed { id: probes[0].1, free: Some(true) }, DEAD - 4);
    assert_eq!(d.e.state(), State::Watching, "free before dead_after: not taken yet");
    assert!(d.takeovers().is_empty());
    d.until(DEAD);
    let took = d.takeovers();
    assert_eq!(took.len(), 1);
    assert_eq!(took[0].0, DEAD, "taken at dead_after of silence, not before, not later");
    assert!(took[0].1.contains("nobody answered a probe"), "{}", took[0].1);
    assert_eq!(d.probes().len(), 1, "no second probe");
    assert_eq!(d.e.state(), State::Holding);
}

/// A heartbeat while the early probe runs cancels it: its answer, "held"
/// (the primary itself) or "free", counts for nothing, no mail; the next
/// silence gets a probe of its own, and the takeover waits for it.
#[test]
fn a_heartbeat_during_the_probe_cancels_it() {
    for answer in [Some(false), Some(true), None] {
        let mut d = drive(20);
        d.until(DEAD - LEAD);
        let (_, first) = d.probes()[0];
        // Heard on one network only: enough to cancel.
        d.heard(DEAD - 10, &[NetId::Private]);
        d.feed(Input::Probed { id: first, free: answer }, DEAD - 4);
        d.until(DEAD + 50);
        assert_eq!(d.blocked_mails(), 0, "{answer:?}: the live primary's answer is no alarm");
        assert!(d.takeovers().is_empty(), "{answer:?}: the primary was heard");
        assert_eq!(d.probes().len(), 1, "{answer:?}");
        // The public network is silent since 0: an anomaly, not a takeover.
        assert_eq!(d.e.state(), State::Anomaly(NetId::Public), "{answer:?}");
        // Silent on both from DEAD - 10 on: a new probe, its own lead
        // before dead_after of that silence.
        let again = DEAD - 10 + DEAD - LEAD;
        d.until(again);
        let probes = d.probes();
        assert_eq!(probes.last().map(|p| p.0), Some(again), "{answer:?}");
        d.until(again + LEAD + 5);
        assert!(d.takeovers().is_empty(), "{answer:?}: the probe's answer is awaited");
        d.feed(Input::Probed { id: probes[1].1, free: Some(true) }, again + LEAD + 6);
        assert_eq!(d.takeovers().first().map(|t| t.0), Some(again + LEAD + 6), "{answer:?}");
    }
}

/// A probe still running at dead_after is waited for (no second one), and
/// its answer taken as it comes.
#[test]
fn a_probe_still_running_at_dead_after_is_waited_for() {
    let mut d = drive(20);
    d.until(DEAD + 20);
    assert_eq!(d.probes().len(), 1, "the early probe is the takeover's");
    assert!(d.takeovers().is_empty());
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(true) }, DEAD + 21);
    assert_eq!(d.takeovers().first().map(|t| t.0), Some(DEAD + 21));
}

/// An early probe that someone answers decides nothing before dead_after
/// (no block, no mail: the silence may still end); at dead_after the probe
/// is made again, and its answer blocks the takeover and is mailed, as
/// ever. A heartbeat during that second probe cancels it too: no mail.
#[test]
fn an_answered_early_probe_is_made_again_at_dead_after() {
    let mut d = drive(20);
    d.until(DEAD - LEAD);
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(false) }, DEAD - 5);
    assert_eq!(d.blocked_mails(), 0);
    d.until(DEAD);
    let probes = d.probes();
    assert_eq!(probes.iter().map(|p| p.0).collect::<Vec<_>>(), vec![DEAD - LEAD, DEAD]);
    d.feed(Input::Probed { id: probes[1].1, free: Some(false) }, DEAD + 20);
    assert_eq!(d.blocked_mails(), 1, "answered at dead_after: blocked and mailed");
    assert!(d.takeovers().is_empty());

    let mut d = drive(20);
    d.until(DEAD - LEAD);
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(false) }, DEAD - 5);
    d.until(DEAD);
    let (_, second) = d.probes()[1];
    d.heard(DEAD + 10, &NetId::ALL);
    d.feed(Input::Probed { id: second, free: Some(false) }, DEAD + 20);
    assert_eq!(d.blocked_mails(), 0, "the answer came after the primary was heard: its own");
    assert_eq!(d.e.state(), State::Watching);
}

/// A long probe starts no earlier than half an interval before dead_after
/// (so a healthy pair under loss probes only when it lost heartbeats on
/// both networks nearly long enough for a takeover); a probe of zero is
/// no probe at all.
#[test]
fn the_probe_starts_no_earlier_than_half_an_interval_before_dead_after() {
    let mut d = drive(200);
    d.until(DEAD - 51);
    assert!(d.probes().is_empty());
    d.until(DEAD - 50);
    assert_eq!(d.probes().first().map(|p| p.0), Some(DEAD - 50));

    let mut d = drive(0);
    d.until(DEAD);
    assert!(d.probes().is_empty());
    assert_eq!(d.takeovers().first().map(|t| t.0), Some(DEAD));
}

/// Something that keeps the takeover off at dead_after (our own checks
/// fail) keeps the early probe off too; and a "free" found long before the
/// takeover becomes possible is not used: the takeover probes afresh.
#[test]
fn no_early_probe_while_the_takeover_is_held_off_and_no_stale_free() {
    let mut d = drive(20);
    d.feed(Input::Fitness { fit: false }, 10);
    d.until(DEAD + 100);
    assert!(d.probes().is_empty(), "unfit and gating: no probe");

    let mut d = drive(20);
    d.until(DEAD - LEAD);
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(true) }, DEAD - 5);
    d.feed(Input::Fitness { fit: false }, DEAD - 2);
    d.until(DEAD + 500);
    assert!(d.takeovers().is_empty(), "gated");
    d.feed(Input::Fitness { fit: true }, DEAD + 500);
    assert!(d.takeovers().is_empty(), "the free answer is 505 ms old: probed again");
    let probes = d.probes();
    assert_eq!(probes.last().map(|p| p.0), Some(DEAD + 500));
    d.feed(Input::Probed { id: probes[1].1, free: Some(true) }, DEAD + 520);
    assert_eq!(d.takeovers().first().map(|t| t.0), Some(DEAD + 520));
}

/// A free answer is good for a takeover that comes on time: held off past
/// the probe's lead, even by less than an interval, the takeover probes
/// again (simulator seed 523630: the primary came back within reach, its
/// addresses still on its interface, 67 ms before a takeover on an answer
/// 80 ms old).
#[test]
fn a_free_answer_older_than_the_lead_is_not_used() {
    let mut d = drive(20);
    d.until(DEAD - LEAD);
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(true) }, DEAD - 5);
    d.feed(Input::Fitness { fit: false }, DEAD - 2);
    d.until(DEAD + 60);
    d.feed(Input::Fitness { fit: true }, DEAD + 60);
    assert!(d.takeovers().is_empty(), "the free answer is 65 ms old, the lead {LEAD} ms: probed again");
    assert_eq!(d.probes().last().map(|p| p.0), Some(DEAD + 60));
}

/// The operator's `takeover` is not a silence: the primary heard while
/// its probe runs does not cancel it, and the probe's answer decides.
#[test]
fn the_primary_heard_during_an_operators_probe_does_not_cancel_it() {
    let mut d = drive(20);
    // Our checks fail: no takeover of our own.
    d.feed(Input::Fitness { fit: false }, 10);
    d.until(DEAD + 100);
    assert!(d.probes().is_empty() && d.takeovers().is_empty());
    d.feed(Input::Command(Command::Takeover), DEAD + 100);
    let probes = d.probes();
    assert_eq!(probes.iter().map(|p| p.0).collect::<Vec<_>>(), vec![DEAD + 100]);
    d.heard(DEAD + 110, &NetId::ALL);
    d.feed(Input::Probed { id: probes[0].1, free: Some(true) }, DEAD + 120);
    assert_eq!(d.takeovers().iter().map(|t| t.0).collect::<Vec<_>>(), vec![DEAD + 120]);
}

/// A takeover waiting for its probe at dead_after is cancelled when the
/// primary is heard; the next silence is probed and taken over afresh
/// (the cancelled one does not stay waiting for an answer that no longer
/// counts).
#[test]
fn a_takeover_cancelled_while_deciding_leaves_the_next_silence_free_to_decide() {
    let mut d = drive(20);
    d.until(DEAD + 20);
    assert_eq!(d.probes().len(), 1);
    assert!(d.e.takeover_probe_waits(), "the takeover waits for the probe");
    d.heard(DEAD + 25, &NetId::ALL);
    assert!(!d.e.takeover_probe_waits());
    // Silent again from DEAD + 25: probed before dead_after, taken at it.
    let again = DEAD + 25 + DEAD - LEAD;
    d.until(again);
    let probes = d.probes();
    assert_eq!(probes.last().map(|p| p.0), Some(again));
    d.feed(Input::Probed { id: probes[1].1, free: Some(true) }, again + 5);
    d.until(DEAD + 25 + DEAD);
    assert_eq!(d.takeovers().iter().map(|t| t.0).collect::<Vec<_>>(), vec![DEAD + 25 + DEAD]);
}

/// The primary says goodbye while the takeover waits for its probe: the
/// addresses are taken at once, and the probe's answer that comes after
/// (our own addresses, now) blocks nothing and mails nothing.
#[test]
fn a_goodbye_while_the_takeover_waits_for_its_probe_leaves_its_answer_unused() {
    let mut d = drive(20);
    d.until(DEAD + 20);
    let (_, id) = d.probes()[0];
    for net in NetId::ALL {
        d.hear(DEAD + 25, net, Kind::Goodbye, 0, None, None);
    }
    assert_eq!(d.e.state(), State::Holding);
    assert!(!d.e.takeover_probe_waits());
    let moves = d.moves().len();
    d.feed(Input::Probed { id, free: Some(false) }, DEAD + 30);
    d.until(DEAD + 1_000);
    assert_eq!(d.blocked_mails(), 0);
    assert_eq!(d.moves().len(), moves);
    assert_eq!(d.e.state(), State::Holding);
}

/// A probe that was answered holds the takeover off, but not the
/// operator's `takeover`: it probes again at once.
#[test]
fn an_operators_takeover_probes_again_after_an_answered_probe() {
    let mut d = drive(20);
    d.until(DEAD);
    let probes = d.probes();
    d.feed(Input::Probed { id: probes.last().unwrap().1, free: Some(false) }, DEAD + 20);
    assert_eq!(d.blocked_mails(), 1);
    d.until(DEAD + 100);
    let before = d.probes().len();
    d.feed(Input::Command(Command::Takeover), DEAD + 100);
    assert_eq!(d.probes().len(), before + 1, "probed again for the operator");
    assert_eq!(d.probes().last().map(|p| p.0), Some(DEAD + 100));
}

/// A primary that says goodbye, or that an operator stood down (it
/// declares the addresses free), needs no probe: taken over at once.
#[test]
fn a_goodbye_or_a_primary_stood_down_is_taken_over_without_a_probe() {
    let stood_down = Flags::PUBLIC_UP | Flags::PRIVATE_UP | Flags::ADDRESS_FREE | Flags::MANUAL;
    for (kind, flags) in [(Kind::Goodbye, 0), (Kind::Heartbeat, stood_down)] {
        let mut d = drive(20);
        d.until(100);
        for net in NetId::ALL {
            d.hear(100, net, kind, flags, None, None);
        }
        assert_eq!(d.takeovers().iter().map(|t| t.0).collect::<Vec<_>>(), vec![100], "{kind:?}");
        assert!(d.probes().is_empty(), "{kind:?}");
    }
}

/// While the takeover waits for its probe, the steps that come meanwhile
/// start no second probe; one that was answered holds the takeover off
/// for dead_after from its answer.
#[test]
fn one_probe_at_a_time_and_an_answered_one_holds_off_for_dead_after() {
    let mut d = drive(20);
    d.until(DEAD);
    for at in [DEAD + 5, DEAD + 10, DEAD + 15] {
        d.feed(Input::Tick, at);
    }
    assert_eq!(d.probes().len(), 1, "the takeover waits for the probe under way");
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(false) }, DEAD + 20);
    for at in (DEAD + 30..DEAD + 20 + DEAD).step_by(10) {
        d.feed(Input::Tick, at);
    }
    assert_eq!(d.probes().len(), 1, "held off for dead_after");
    d.until(DEAD + 20 + DEAD + 100);
    assert_eq!(d.probes().get(1).map(|p| p.0), Some(DEAD + 20 + DEAD));
}

/// What changed during the takeover probe is looked at when its answer
/// comes: our private link that came back a moment ago has not had the
/// time to carry a heartbeat (no silence there yet), and a rival of the
/// same role that would serve keeps us off.
#[test]
fn the_probe_answer_is_acted_on_only_if_the_silence_still_holds() {
    type Change = fn(&mut Driver);
    let changes: [(&str, Change); 2] = [
        ("our private link bounced", |d| {
            d.feed(Input::Link { net: NetId::Private, up: false }, DEAD + 21);
            d.feed(Input::Link { net: NetId::Private, up: true }, DEAD + 22);
        }),
        ("a rival secondary that holds them", |d| {
            let flags = Flags(Flags::PUBLIC_UP | Flags::PRIVATE_UP | Flags::HOLDING);
            d.feed(Input::SameRole { flags, outranks: true }, DEAD + 22);
        }),
    ];
    for (what, change) in changes {
        let mut d = drive(20);
        d.until(DEAD);
        let (_, id) = d.probes()[0];
        change(&mut d);
        d.feed(Input::Probed { id, free: Some(true) }, DEAD + 25);
        assert!(d.takeovers().is_empty(), "{what}");
    }
}

/// The operator's takeover is answered with what its probe found: another
/// host answers, or the situation changed (our public link went down)
/// while it probed, whatever the answer.
#[test]
fn an_operators_takeover_is_told_what_its_probe_found() {
    let refused = "another host answers for the addresses (see the log for its MAC): not taking them";
    let changed = "the situation changed during the probe; try again";
    let cases = [
        ("answered", false, Some(false), refused),
        ("free, our public link down meanwhile", true, Some(true), changed),
        ("not made, our public link down meanwhile", true, None, changed),
    ];
    for (what, link_down, free, told) in cases {
        let mut d = drive(20);
        // Our checks fail: no takeover of our own.
        d.feed(Input::Fitness { fit: false }, 10);
        d.until(DEAD + 100);
        d.feed(Input::Command(Command::Takeover), DEAD + 100);
        let (_, id) = *d.probes().last().expect("the operator's probe");
        if link_down {
            d.feed(Input::Link { net: NetId::Public, up: false }, DEAD + 105);
        }
        let a = d.feed(Input::Probed { id, free }, DEAD + 110);
        assert!(a.contains(&Action::Answer(Err(told.to_string()))), "{what}: {a:?}");
        assert!(d.takeovers().is_empty(), "{what}");
    }
}

/// A monitor that wakes from a stall inside the probe's lead reads its
/// backlog first: no early probe while it settles (the silence it would
/// prepare may be queued heartbeats).
#[test]
fn no_early_probe_while_the_monitor_settles_after_a_stall() {
    let mut d = drive(20);
    // Frozen from the heartbeat at 0 (its next step due at 100) until
    // inside the lead: the first step is more than an interval late.
    d.feed(Input::Tick, DEAD - LEAD + 1);
    assert!(d.probes().is_empty());
    d.feed(Input::Tick, DEAD - 10);
    assert!(d.probes().is_empty(), "still settling");
}

/// A probe that was answered holds the takeover off for dead_after, the
/// early probe of a new silence that ends within that time too.
#[test]
fn no_early_probe_for_a_silence_that_ends_while_an_answer_holds_off() {
    let mut d = drive(20);
    d.until(DEAD);
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(false) }, DEAD + 20);
    // Held off until DEAD + 20 + DEAD = 620. The primary is heard at 310,
    // and falls silent again: that silence reaches dead_after at 610.
    d.heard(310, &NetId::ALL);
    d.until(615);
    assert_eq!(d.probes().len(), 1, "{:?}", d.probes());
    d.until(700);
    assert_eq!(d.probes().get(1).map(|p| p.0), Some(620), "probed when the hold ends");
}

/// No early probe where the takeover would not be tried: our public link
/// is down (the probe could not reach the addresses' LAN, and the
/// addresses would serve nobody here), or the operator's Test refused the
/// takeover (it stands until the primary is heard).
#[test]
fn no_early_probe_without_our_public_link_or_after_a_refusal() {
    let mut d = drive(20);
    d.feed(Input::Link { net: NetId::Public, up: false }, 100);
    d.until(500);
    assert!(d.probes().is_empty(), "{:?}", d.probes());
    assert_eq!(d.e.state(), State::Isolated);

    let mut d = drive(20);
    d.answer = false;
    let free = Flags::PRIVATE_UP | Flags::ADDRESS_FREE;
    for net in NetId::ALL {
        d.hear(100, net, Kind::Heartbeat, free, None, None);
    }
    let id = d.e.moving().expect("taken over at once").0;
    d.feed(Input::Moved(MoveReport { id, held: Held::None, vetoed: true }), 105);
    assert_eq!(d.e.state(), State::Vetoed);
    d.until(1_000);
    assert!(d.probes().is_empty(), "{:?}", d.probes());
}

/// A failed takeover's retry waits for its back-off, but the primary heard
/// again brings it within dead_after (`Backoff::reset`): a new silence is
/// then probed early as any other, never held off by the old back-off
/// (which is why `probe_early`'s check of a pending retry cannot act).
#[test]
fn a_new_silence_after_failed_takeovers_is_probed_early() {
    let mut d = drive(20);
    d.after_acquire = Held::None;
    d.until(DEAD - LEAD);
    d.feed(Input::Probed { id: d.probes()[0].1, free: Some(true) }, DEAD - 30);
    d.until(DEAD);
    assert_eq!(d.e.state(), State::Failed, "the first takeover failed");
    d.until(2 * DEAD);
    let (_, id) = *d.probes().last().unwrap();
    d.feed(Input::Probed { id, free: Some(true) }, 2 * DEAD + 10);
    assert_eq!(d.e.state(), State::Failed, "the second failed: the retry waits twice dead_after");
    // The primary is heard on one network, and falls silent again.
    d.heard(2 * DEAD + 50, &[NetId::Private]);
    d.until(2 * DEAD + 50 + DEAD + 10);
    let last = d.probes().last().map(|p| p.0);
    assert_eq!(last, Some(2 * DEAD + 50 + DEAD - LEAD), "{:?}", d.probes());
}
