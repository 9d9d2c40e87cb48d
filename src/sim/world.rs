//! The simulated world: two nodes, two networks, an operator and a clock.

use super::adversary::Adversary;
use super::check::Checker;
use super::node::{Daemon, HookCount, Node, Proc, SimJob, StateFile, OTHER_PAIR, PAIR};
use super::{Ev, Rng};
use crate::config::{Failback, Mode, NetId, Role};
use crate::engine::{
    Action, Command, Direction, Engine, Input, MoveId, MoveReport, ProbeId, Reason, Reload, Settings, Timing,
};
use crate::proto::intake::{Intake, Me, Outcome};
use crate::proto::replay::Guard;
use crate::proto::{ClaimId, Generation, Kind, Message, Seq};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// The actors and behaviours of the world whose invariants need a fix that
/// lives on a branch of its own (issue 29). Every switch is on by default:
/// a run with one off says which failures that branch answers for, never
/// that the invariant holds (`simulate --off NAME`). docs/robustness.md
/// lists which branch each one needs.
#[derive(Clone, Copy, Debug)]
pub struct Switches {
    /// An administrator removes or adds a service address by hand; the
    /// engine hears of it through the address watch (branch `watch`).
    pub address_by_hand: bool,
    /// The public interface disappears with its addresses and comes back
    /// (branch `watch`: the addresses are put back).
    pub interface_gone: bool,
    /// The mover runs an address's hooks only when the move changes it
    /// (branch `moves`); off models a mover that runs every address's
    /// hooks, which invariant (g) rejects.
    pub hooks_only_changed: bool,
    /// Address changes fail over and over for a while (a fault), so that
    /// failed moves repeat: invariant (h) needs the back-off of branch
    /// `moves`.
    pub repeated_failures: bool,
    /// The mover's report reaches the monitor late, or twice.
    pub late_reports: bool,
    /// A third host on the public network takes a service address for a
    /// while and answers probes for it.
    pub squatter: bool,
    /// Both nodes killed and started at the same instant; one node's pair
    /// name changed at a restart.
    pub restarts: bool,
    /// Both nodes configured with the same role (now and then).
    pub same_role: bool,
}

impl Default for Switches {
    fn default() -> Switches {
        Switches {
            address_by_hand: true,
            interface_gone: true,
            hooks_only_changed: true,
            repeated_failures: true,
            late_reports: true,
            squatter: true,
            restarts: true,
            same_role: true,
        }
    }
}

impl Switches {
    /// The switch called `name`, to turn it off from the command line.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "address_by_hand" => &mut self.address_by_hand,
            "interface_gone" => &mut self.interface_gone,
            "hooks_only_changed" => &mut self.hooks_only_changed,
            "repeated_failures" => &mut self.repeated_failures,
            "late_reports" => &mut self.late_reports,
            "squatter" => &mut self.squatter,
            "restarts" => &mut self.restarts,
            "same_role" => &mut self.same_role,
            _ => return None,
        })
    }
}

pub(super) const P: usize = 0;
pub(super) const S: usize = 1;
/// How many trace lines a failure report shows.
const TRACE_TAIL: usize = 60;

/// The knobs of one run, all drawn from its seed.
#[derive(Clone, Debug)]
pub(super) struct Params {
    pub interval: u64,
    pub dead_after: u64,
    pub addresses: usize,
    pub failback: Failback,
    pub loss: [f64; 2],
    pub delay_max: [u64; 2],
    /// A fixed extra latency per network: one reader consistently slower
    /// than the other, so datagrams overtake each other systematically.
    pub bias: [u64; 2],
    pub dup: f64,
    /// Longest hook (each of Pre and Post), in ms.
    pub hook_max: u64,
    pub fail: f64,
    pub faults: u32,
    pub fault_gap_max: u64,
    /// Both nodes configured with this role (issue 29), if any.
    pub same_role: Option<Role>,
    /// Probability that the mover's report of a move reaches the monitor
    /// late (after other inputs), and that it arrives a second time.
    pub late_report: f64,
    pub dup_report: f64,
    pub switches: Switches,
}

impl Params {
    fn draw(rng: &mut Rng, switches: Switches) -> Params {
        let interval = *rng.pick(&[10, 20, 50, 100, 200, 500]);
        let dead_after = interval * rng.range(2, 5);
        let hook_max = *rng.pick(&[0, 1, interval / 2, interval * 2, dead_after * 2]);
        Params {
            interval,
            dead_after,
            addresses: *rng.pick(&[1, 2, 2, 3]),
            failback: if rng.chance(0.25) { Failback::Manual } else { Failback::Auto },
            loss: [*rng.pick(&[0.0, 0.0, 0.01, 0.1, 0.3]), *rng.pick(&[0.0, 0.0, 0.01, 0.1, 0.3])],
            delay_max: [rng.range(0, interval / 2), rng.range(0, interval / 2)],
            bias: [rng.range(0, 3), rng.range(0, 3)],
            dup: *rng.pick(&[0.0, 0.0, 0.01, 0.1]),
            hook_max,
            fail: *rng.pick(&[0.0, 0.0, 0.0, 0.05, 0.3]),
            faults: rng.range(4, 16) as u32,
            fault_gap_max: dead_after * rng.range(2, 12),
            same_role: match rng.range(0, 49) {
                0 => Some(Role::Primary),
                1 => Some(Role::Secondary),
                _ => None,
            },
            late_report: *rng.pick(&[0.0, 0.0, 0.1, 0.5]),
            dup_report: *rng.pick(&[0.0, 0.0, 0.0, 0.1]),
            switches,
        }
    }

    pub(super) fn settings(&self, role: Role, recover: u64) -> Settings {
        Settings {
            role,
            mode: Mode::Managed,
            failback: self.failback,
            timing: Timing {
                interval: ms(self.interval),
                dead_after: ms(self.dead_after),
                recover_after: ms(recover),
                startup_grace: Duration::ZERO,
                takeover_probe: crate::engine::auto_takeover_probe(ms(self.interval)),
            },
            gates_takeover: true,
        }
    }

    /// The longest a move of every address can take.
    pub(super) fn move_max(&self) -> u64 {
        self.addresses as u64 * 2 * self.hook_max + 1
    }
}

/// A scheduled undo of a fault, or an operator's second step.
#[derive(Clone, Debug)]
pub(crate) enum Undo {
    Plug {
        node: usize,
        nets: Vec<NetId>,
    },
    Start {
        node: usize,
        state: StateFate,
    },
    Thaw {
        node: usize,
    },
    Reload {
        node: usize,
        configured: Vec<bool>,
        settings: Settings,
    },
    MovesWork {
        node: usize,
    },
    /// The daemon's address watch reports the kernel's addresses (after an
    /// outside actor changed them): the engine gets `Input::Kernel`.
    Watch {
        node: usize,
    },
    /// The operator puts the node's pair name right and restarts it.
    PairName {
        node: usize,
    },
    /// The node's service checks start passing or failing.
    Fitness {
        node: usize,
        fit: bool,
    },
    Link {
        node: usize,
        net: NetId,
        up: bool,
    },
    /// The third host gives the address up.
    Squatter {
        addr: usize,
    },
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum StateFate {
    Kept,
    Lost,
    /// The daemon refuses to start until the operator moves the file away.
    Corrupt,
}

/// A broken invariant, with what led to it.
/// Steps at one virtual instant, and virtual time, beyond which a run is a
/// failure: a spinning daemon, or a world that never settles.
const SPIN_STEPS: u64 = 100_000;
const NEVER_ENDS_MS: u64 = 24 * 3_600_000;

#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub at: u64,
    pub what: String,
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "seed {} broke an invariant at {} ms: {}", self.seed, self.at, self.what)?;
        writeln!(
            f,
            "last {} trace lines (replay: scripts/simulate --seed {} --trace):",
            self.trace.len(),
            self.seed
        )?;
        for l in &self.trace {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

/// What one seed did.
#[derive(Debug)]
pub struct Report {
    pub seed: u64,
    pub steps: u64,
    pub virtual_ms: u64,
    pub failure: Option<Failure>,
}

pub(super) struct World {
    pub seed: u64,
    rng: Rng,
    t0: Instant,
    pub now: u64,
    pub p: Params,
    pub n: [Node; 2],
    events: BTreeMap<(u64, u64), Ev>,
    ev_seq: u64,
    /// Invisible partitions (carrier up, nothing passes) and loss bursts.
    pub blocked_until: [u64; 2],
    /// No fault is drawn before this (ms): an outside actor that must be
    /// left alone for longer than (f)'s bound to show what it shows.
    calm_until: u64,
    burst: [(f64, u64); 2],
    faults_left: u32,
    pub healed: bool,
    trace: VecDeque<String>,
    keep_trace: bool,
    pub steps: u64,
    pub check: Checker,
    /// Per node: what a reload added and dropped, for its next Reload move.
    reload_diff: [(Vec<usize>, Vec<usize>); 2],
    /// Per node: a reloaded configuration waiting for `Reconfigure`.
    staged: [Option<Vec<bool>>; 2],
    generations: u64,
    /// Per address: a third host on the public network holds it (and
    /// answers probes for it).
    pub squatted: Vec<bool>,
    /// One per network, without the key (invariant (j)).
    pub adversary: Adversary,
    /// "Secondary no longer heard" mails so far (`alarms_under_loss`).
    pub peer_lost_mails: u64,
    /// Probes of the addresses (ARP) each node started, and takeovers
    /// (acquiring moves) of the secondary (`loss_run`).
    pub probes: [u64; 2],
    pub takeovers: u64,
}

/// What a healthy pair under steady loss did (`loss_run`): false "secondary
/// no longer heard" mails, probes of the addresses the secondary sent (each
/// one ARP traffic on the LAN), and its takeovers (each one false: the
/// primary never stops).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LossRun {
    pub alarms: u64,
    pub probes: u64,
    pub takeovers: u64,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs one seed to its end or its first broken invariant.
pub fn run(seed: u64, trace: bool) -> Report {
    run_with(seed, trace, Switches::default())
}

/// False "secondary no longer heard" mails of a healthy pair under steady
/// loss on both networks (`World::alarms_under_loss`), or the invariant
/// such a run broke.
pub fn alarms_under_loss(
    seed: u64,
    interval: u64,
    dead_after: u64,
    loss: f64,
    minutes: u64,
) -> Result<u64, Failure> {
    World::loss_run(seed, interval, dead_after, loss, minutes).map(|r| r.alarms)
}

/// The same run as `alarms_under_loss`, with its probes and takeovers
/// counted too (issue 32: the takeover probe, which starts before
/// dead_after runs out, must stay rare in a healthy pair).
pub fn loss_run(
    seed: u64,
    interval: u64,
    dead_after: u64,
    loss: f64,
    minutes: u64,
) -> Result<LossRun, Failure> {
    World::loss_run(seed, interval, dead_after, loss, minutes)
}

/// `run` with some of the world's switches off.
pub fn run_with(seed: u64, trace: bool, switches: Switches) -> Report {
    let mut w = World::new(seed, trace, switches);
    let failure = w.run_all().err();
    if trace {
        for l in &w.trace {
            println!("{l}");
        }
    }
    Report { seed, steps: w.steps, virtual_ms: w.now, failure }
}

impl World {
    fn new(seed: u64, keep_trace: bool, switches: Switches) -> World {
        let mut rng = Rng::new(seed);
        let mut p = Params::draw(&mut rng, switches);
        if !switches.same_role {
            p.same_role = None;
        }
        if !switches.late_reports {
            (p.late_report, p.dup_report) = (0.0, 0.0);
        }
        if !switches.repeated_failures {
            p.fail = p.fail.min(0.05);
        }
        let recover = p.interval * rng.range(0, 5);
        let roles = match p.same_role {
            Some(r) => [r, r],
            None => [Role::Primary, Role::Secondary],
        };
        let mut n = [
            Node::new(roles[0], p.settings(roles[0], recover), p.addresses, 0),
            Node::new(roles[1], p.settings(roles[1], recover), p.addresses, 1),
        ];
        if p.same_role.is_some() {
            n[0].label = "A";
            n[1].label = "B";
        }
        for node in &mut n {
            node.fail = p.fail;
        }
        let squatted = vec![false; p.addresses];
        World {
            seed,
            rng,
            t0: Instant::now(),
            now: 0,
            faults_left: p.faults,
            check: Checker::new(&p),
            p,
            n,
            events: BTreeMap::new(),
            ev_seq: 0,
            blocked_until: [0, 0],
            calm_until: 0,
            burst: [(0.0, 0), (0.0, 0)],
            healed: false,
            trace: VecDeque::new(),
            keep_trace,
            steps: 0,
            reload_diff: Default::default(),
            staged: [None, None],
            generations: 0,
            squatted,
            adversary: Adversary::new(seed),
            peer_lost_mails: 0,
            probes: [0, 0],
            takeovers: 0,
        }
    }

    /// A healthy pair under steady random loss on both networks and
    /// nothing else (no faults, no adversary, no failing moves), for
    /// `minutes` of virtual time at `interval` / `dead_after` (ms): how
    /// many "secondary no longer heard" mails the primary sent (issue 32:
    /// each one false), and how many of the secondary's status datagrams
    /// reached it; and how many probes and takeovers the secondary made.
    /// The invariants are checked as in any run.
    pub(super) fn loss_run(
        seed: u64,
        interval: u64,
        dead_after: u64,
        loss: f64,
        minutes: u64,
    ) -> Result<LossRun, Failure> {
        let mut w = World::new(seed, false, Switches::default());
        let mut p = w.p.clone();
        (p.interval, p.dead_after, p.loss) = (interval, dead_after, [loss, loss]);
        (p.faults, p.fail, p.dup, p.same_role) = (0, 0.0, 0.0, None);
        (p.late_report, p.dup_report, p.hook_max) = (0.0, 0.0, 0);
        p.delay_max = [interval / 10, interval / 10];
        let recover = interval;
        w.n = [
            Node::new(Role::Primary, p.settings(Role::Primary, recover), p.addresses, 0),
            Node::new(Role::Secondary, p.settings(Role::Secondary, recover), p.addresses, 1),
        ];
        w.check = Checker::new(&p);
        w.p = p;
        w.adversary.active = [false, false];
        for i in [P, S] {
            w.boot(i, StateFate::Kept);
        }
        let end = minutes * 60_000;
        while let Some((at, tick)) = w.next_step().filter(|_| w.now < end) {
            w.take_step(at, tick);
            w.checks()?;
        }
        Ok(LossRun { alarms: w.peer_lost_mails, probes: w.probes[S], takeovers: w.takeovers })
    }

    pub(super) fn trace(&mut self, line: String) {
        let line = format!("{:>7} ms {line}", self.now);
        if self.keep_trace {
            self.trace.push_back(line);
            return;
        }
        if self.trace.len() == TRACE_TAIL {
            self.trace.pop_front();
        }
        self.trace.push_back(line);
    }

    fn at(&self, t: u64) -> Instant {
        self.t0 + ms(t)
    }

    /// The virtual time of an engine's instant.
    pub(super) fn ms_of(&self, t: Instant) -> u64 {
        ceil_ms(t.saturating_duration_since(self.t0))
    }

    pub(super) fn schedule(&mut self, at: u64, ev: Ev) {
        self.ev_seq += 1;
        self.events.insert((at, self.ev_seq), ev);
    }

    fn run_all(&mut self) -> Result<(), Failure> {
        let p = self.p.clone();
        self.trace(format!("seed {} params {:?}", self.seed, p));
        for i in [P, S] {
            self.boot(i, StateFate::Kept);
        }
        let gap = self.rng.range(p.dead_after * 2, p.fault_gap_max);
        self.schedule(gap, Ev::Fault);
        for net in NetId::ALL {
            if self.adversary.active[net.index()] {
                let gap = self.adversary.gap(p.interval, p.dead_after);
                self.schedule(gap, Ev::Adversary { net });
            }
        }
        let settle = 30 * p.dead_after + 8 * p.move_max() + 2_000;
        // The pair settles from the heal, or from the end of the latest
        // back-off an engine set for a retry (issue 28: a move that failed
        // ten times in a row under the faults waits 2^9 dead_afters, up to
        // `RETRY_CAP`; the engine cannot see the cause healed and retries
        // when its wait is over; (b) and (f) allow the same waits).
        let mut settle_from = 0u64;
        let mut same_instant = 0u64;
        while let Some((at, tick)) = self.next_step() {
            if self.healed {
                settle_from = settle_from.max(self.check.healed_at).max(self.waits_until());
                if at > settle_from + settle {
                    break;
                }
            }
            // A daemon that keeps stepping without time passing spins a
            // CPU; one whose world never settles never ends.
            same_instant = if at <= self.now { same_instant + 1 } else { 0 };
            if same_instant > SPIN_STEPS || at > NEVER_ENDS_MS {
                return Err(self.failure(format!("no progress: {same_instant} steps at {at} ms")));
            }
            self.take_step(at, tick);
            self.checks()?;
        }
        self.final_check()
    }

    /// The latest retry a running engine waits for (`Engine::waits_until`),
    /// in ms of the simulation.
    fn waits_until(&self) -> u64 {
        [P, S]
            .into_iter()
            .filter_map(|i| self.n[i].daemon_ref()?.engine.waits_until())
            .map(|t| ceil_ms(t.duration_since(self.t0)))
            .max()
            .unwrap_or(0)
    }

    /// When the next step is due, and whether it is a running node's
    /// deadline (`Some(node)`) or the next event; `None` when nothing is
    /// left.
    fn next_step(&self) -> Option<(u64, Option<usize>)> {
        let next_ev = self.events.keys().next().map(|k| k.0);
        let next_dl = [P, S]
            .into_iter()
            .filter_map(|i| {
                let d = self.n[i].daemon_ref()?.engine.next_deadline()?;
                self.n[i].running().then_some((i, ceil_ms(d.duration_since(self.t0))))
            })
            .min_by_key(|&(_, t)| t);
        match (next_ev, next_dl) {
            (Some(e), Some((i, d))) if d < e => Some((d, Some(i))),
            (Some(e), _) => Some((e, None)),
            (None, Some((i, d))) => Some((d, Some(i))),
            (None, None) => None,
        }
    }

    /// Moves the clock to `at` and runs that step: the node's tick, or the
    /// next event.
    fn take_step(&mut self, at: u64, tick: Option<usize>) {
        self.now = self.now.max(at);
        self.steps += 1;
        match tick {
            Some(i) => self.input(i, Input::Tick),
            None => {
                let (_, ev) = self.events.pop_first().expect("event");
                self.event(ev);
            }
        }
    }

    fn checks(&mut self) -> Result<(), Failure> {
        let mut check = std::mem::take(&mut self.check);
        let r = check.after_step(self);
        self.check = check;
        r.map_err(|what| self.failure(what))
    }

    fn final_check(&mut self) -> Result<(), Failure> {
        let check = std::mem::take(&mut self.check);
        let r = check.at_end(self);
        self.check = check;
        r.map_err(|what| self.failure(what))
    }

    fn failure(&self, what: String) -> Failure {
        let tail = self.trace.len().saturating_sub(TRACE_TAIL);
        Failure {
            seed: self.seed,
            at: self.now,
            what,
            trace: self.trace.iter().skip(tail).cloned().collect(),
        }
    }

    fn event(&mut self, ev: Ev) {
        let frozen_node = match &ev {
            Ev::Deliver { to, .. } | Ev::Forged { to, .. } => Some(*to),
            Ev::MoverStep { node, .. } | Ev::Probed { node, .. } | Ev::Report { node, .. } => Some(*node),
            Ev::Undo(Undo::Watch { node })
            | Ev::Undo(Undo::Link { node, .. })
            | Ev::Undo(Undo::Reload { node, .. })
            | Ev::Undo(Undo::Fitness { node, .. }) => Some(*node),
            _ => None,
        };
        if let Some(i) = frozen_node {
            if matches!(self.n[i].proc, Proc::Frozen(..)) {
                self.n[i].held_back.push(ev);
                return;
            }
        }
        match ev {
            Ev::Deliver { to, net, msg } => self.deliver(to, net, msg),
            Ev::Forged { to, net, forged, at } => self.deliver_forged(to, net, forged, at),
            Ev::Adversary { net } => self.adversary(net),
            Ev::Report { node, life, report } => {
                if self.n[node].life == life {
                    self.trace(format!(
                        "{} mover reports move {} (late or again)",
                        self.n[node].name(),
                        report.id
                    ));
                    self.check.reported(node, report.vetoed);
                    self.input(node, Input::Moved(report));
                }
            }
            Ev::MoverStep { node, life, id, phase } => self.mover_step(node, life, id, phase),
            Ev::Probed { node, life, id } => {
                if self.n[node].life == life {
                    let answer = self.probe_answer(node);
                    let answered = answer.is_some();
                    self.trace(format!(
                        "{} probe: {}",
                        self.n[node].name(),
                        answer.map_or("free".to_string(), |who| format!("answered by {who}"))
                    ));
                    self.check.probed(node, answered, self.now);
                    self.input(node, Input::Probed { id, free: Some(!answered) });
                }
            }
            Ev::Fault if self.now < self.calm_until => self.schedule(self.calm_until, Ev::Fault),
            Ev::Fault => {
                self.check.outside(self.now);
                self.fault()
            }
            Ev::Undo(u) => {
                self.check.outside(self.now);
                self.undo(u)
            }
            Ev::Heal => {
                self.check.outside(self.now);
                self.heal()
            }
        }
    }

    /// Every cable in, no partition, no loss burst.
    /// Every cable in and nothing lost: no fault, and no background loss
    /// either (under loss, an unfit primary rightly takes the secondary for
    /// gone now and then and claims, docs/design.md §9).
    pub(super) fn clean_network(&self) -> bool {
        let all_in = [P, S].iter().all(|&i| self.n[i].plugged == [true, true]);
        all_in
            && self.p.loss == [0.0, 0.0]
            && self.blocked_until.iter().all(|&t| self.now >= t)
            && self.burst.iter().all(|b| self.now >= b.1)
    }

    /// Both nodes' public cables are in and the public network passes.
    pub(super) fn public_connected(&self) -> bool {
        self.n[P].link(NetId::Public) && self.n[S].link(NetId::Public) && self.now >= self.blocked_until[0]
    }

    /// Who answers an ARP probe of `node` for its addresses now, if anyone:
    /// the peer holding one (alive or not), the outside actors' third host
    /// squatting on one, or the adversary's squatter. The probe and the
    /// checker's (k) ask the same question.
    pub(super) fn probe_answer(&self, node: usize) -> Option<&'static str> {
        let other = 1 - node;
        let ours = |a: usize| self.n[node].configured[a];
        if self.public_connected() && (0..self.p.addresses).any(|a| ours(a) && self.n[other].kernel[a]) {
            return Some("the peer");
        }
        let reach = self.n[node].link(NetId::Public) && self.now >= self.blocked_until[0];
        let squatter = (0..self.p.addresses)
            .any(|a| ours(a) && (self.squatted[a] || self.adversary.squats(a, self.now)));
        (reach && squatter).then_some("a third host")
    }

    // ------------------------------------------------------------ processes

    fn boot(&mut self, i: usize, fate: StateFate) {
        let node = &mut self.n[i];
        match fate {
            StateFate::Kept => {}
            StateFate::Lost => node.state_file = StateFile::default(),
            StateFate::Corrupt => {
                // Refuses to start (fail closed); the operator moves the
                // file away and starts it again a little later.
                node.state_file = StateFile::default();
                let later = self.now + self.rng.range(self.p.interval, 10 * self.p.dead_after);
                self.n[i].proc = Proc::Down(Some(later));
                self.trace(format!("{} refuses to start: corrupt state file", self.n[i].name()));
                self.schedule(later, Ev::Undo(Undo::Start { node: i, state: StateFate::Lost }));
                return;
            }
        }
        // Generations: the stored one plus one, or the clock's, whichever
        // is higher (docs/protocol.md); the clock part always increases.
        self.generations += 1 << 20;
        let at = self.at(self.now);
        let node = &mut self.n[i];
        node.configured = node.file.clone();
        node.pair = node.pair_file;
        let generation =
            Generation((node.state_file.generation.0 + 1).max(self.generations + self.now * 1024));
        node.state_file.generation = generation;
        let guard = Guard::new(node.role, node.sender, &node.state_file.floors);
        // The pair name of its file: an operator may rename one node's
        // pair (issue 29), and then the two drop each other's datagrams.
        let me = Me { role: node.role, sender: node.sender, generation, pair: node.pair };
        let intake = Intake::new(me, guard);
        let engine = Engine::new(node.settings, at, generation.0);
        node.proc =
            Proc::Up(Box::new(Daemon { engine, intake, generation, seq: Seq(0), persisted_at: self.now }));
        node.life += 1;
        node.failed_moves = 0;
        node.retry_waits = 0;
        self.adversary.restarted(i);
        let name = node.name();
        self.trace(format!("{name} starts (generation {generation})"));
        // As the monitor does: the links first, then what the kernel holds.
        for net in NetId::ALL {
            if !self.n[i].link(net) {
                self.input(i, Input::Link { net, up: false });
            }
        }
        if !self.n[i].fit {
            self.input(i, Input::Fitness { fit: false });
        }
        let held = self.n[i].held();
        self.input(i, Input::Kernel(held));
        self.input(i, Input::Tick);
    }

    fn kill(&mut self, i: usize, restart: Option<u64>) {
        let node = &mut self.n[i];
        node.proc = Proc::Down(restart);
        node.life += 1;
        node.job = None;
        node.queue.clear();
        node.held_back.clear();
        node.strays.clear();
        self.staged[i] = None;
        self.reload_diff[i] = Default::default();
    }

    /// Feeds one input to node `i` and carries out the engine's actions.
    /// Inputs that actions call for are fed after the rest of the actions,
    /// in order, as the monitor does.
    pub(super) fn input(&mut self, i: usize, input: Input) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let now = self.at(self.now);
            let Some(d) = self.n[i].daemon() else { return };
            let actions = d.engine.step(input, now);
            self.check.now = self.now;
            self.check.saw_actions(i, &actions);
            for a in actions {
                if let Action::CheckKernel = a {
                    inputs.push_back(Input::Kernel(self.n[i].held()));
                } else {
                    self.act(i, a);
                }
            }
        }
    }

    fn act(&mut self, i: usize, a: Action) {
        let name = self.n[i].name();
        self.adversary.traced(&a);
        match a {
            Action::Transition(t) => {
                self.trace(format!("{name} {} -> {} ({}) {}", t.from, t.to, t.reason, t.detail));
            }
            Action::Move { id, dir, reason } => self.start_move(i, id, dir, reason),
            Action::SendHeartbeat => self.send(i, Kind::Heartbeat, 1, None),
            Action::SendStatus { only } => self.send_on(i, Kind::Status, 1, None, only),
            Action::SendGoodbye => {
                self.trace(format!("{name} says goodbye"));
                self.send(i, Kind::Goodbye, 2, None)
            }
            Action::SendClaim { id } => self.send(i, Kind::Claim, 1, Some(id)),
            Action::SendReleased { id } => {
                self.trace(format!("{name} sends released for claim {id}"));
                self.send(i, Kind::Released, 1, Some(id))
            }
            Action::Probe { id, wait } => self.probe(i, id, wait),
            Action::Reconfigure => self.apply_reload(i),
            Action::CheckKernel => {}
            Action::Answer(a) => self.trace(format!("{name} answers: {a:?}")),
            Action::Notify(n) => {
                if matches!(n, crate::engine::Notice::PeerLost { .. }) {
                    self.peer_lost_mails += 1;
                }
                self.trace(format!("{name} mails: {n:?}"))
            }
            Action::Exit => {
                self.trace(format!("{name} exits"));
                self.save_state(i);
                self.kill(i, None);
            }
        }
    }

    /// A move the engine asks for: queued for the mover, which starts it
    /// at once when idle.
    fn start_move(&mut self, i: usize, id: MoveId, dir: Direction, reason: Reason) {
        let name = self.n[i].name();
        if self.n[i].role == Role::Secondary && dir == Direction::Acquire {
            self.takeovers += 1;
        }
        let (moving, mut dropped): (Vec<usize>, Vec<usize>) = if reason == Reason::Reload {
            std::mem::take(&mut self.reload_diff[i])
        } else {
            ((0..self.p.addresses).filter(|&a| self.n[i].configured[a]).collect(), Vec::new())
        };
        // As the monitor: a failed drop is tried again by every move.
        let strays: Vec<usize> = self.n[i]
            .strays
            .iter()
            .copied()
            .filter(|&a| !self.n[i].configured[a] && !dropped.contains(&a))
            .collect();
        dropped.extend(strays);
        self.trace(format!("{name} move {id}: {dir:?} ({reason}) {moving:?} dropping {dropped:?}"));
        // (l) one move at a time: the mover has finished the one
        // before (its report may still be on its way).
        if let Some(busy) = self.n[i].job.as_ref().or(self.n[i].queue.front()) {
            self.check.problem(format!(
                "(l) {name} asks for move {id} ({dir:?}, {reason}) while its mover still works on move {} ({:?}, {})",
                busy.id, busy.dir, busy.reason
            ));
        }
        self.n[i].queue.push_back(SimJob { id, dir, reason, moving, dropped, hooks: Vec::new() });
        if self.n[i].job.is_none() {
            self.next_job(i);
        }
    }

    /// A probe: it ends after what it takes in the daemon.
    fn probe(&mut self, i: usize, id: ProbeId, wait: Duration) {
        self.probes[i] += 1;
        // What a probe takes in the daemon: its wait, its thread
        // and sockets (0.5 ms measured), up to half its wait more,
        // and one time in ten, on a busy host, up to twice its wait
        // more: the secondary's early probe (`Engine::probe_lead`)
        // then ends before or after dead_after. Varied by the
        // probe's id, not drawn from the world's random stream,
        // which would then depend on how many probes the engines
        // make (a seed's faults stay where they were when the
        // probes change).
        let wait = ceil_ms(wait);
        let spread = id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let busy = if spread % 10 == 0 { spread / 10 % (2 * wait + 1) } else { 0 };
        let took = wait + spread % (1 + wait / 2) + busy;
        let life = self.n[i].life;
        self.schedule(self.now + took, Ev::Probed { node: i, life, id });
    }

    /// The engine applies a staged reload: the address list changes and
    /// the difference is what the reload's move moves.
    fn apply_reload(&mut self, i: usize) {
        let name = self.n[i].name();
        if let Some(new) = self.staged[i].take() {
            let old = std::mem::replace(&mut self.n[i].configured, new);
            let now = &self.n[i].configured;
            let added = (0..old.len()).filter(|&a| now[a] && !old[a]).collect();
            let dropped = (0..old.len()).filter(|&a| !now[a] && old[a]).collect();
            self.reload_diff[i] = (added, dropped);
            self.check.reconfigured(i, self.now);
            self.trace(format!("{name} applies the reload: {:?}", self.n[i].configured));
        }
    }

    fn save_state(&mut self, i: usize) {
        if let Some(d) = self.n[i].daemon() {
            let floors = d.intake.guard_mut().floors();
            d.persisted_at = self.now;
            self.n[i].state_file.floors = floors;
        }
    }

    // --------------------------------------------------------------- network

    fn send(&mut self, from: usize, kind: Kind, copies: usize, claim: Option<ClaimId>) {
        self.send_on(from, kind, copies, claim, None);
    }

    /// `copies` of a datagram on each network, or on `only` one.
    fn send_on(
        &mut self,
        from: usize,
        kind: Kind,
        copies: usize,
        claim: Option<ClaimId>,
        only: Option<NetId>,
    ) {
        let now = self.at(self.now);
        let node = &mut self.n[from];
        let (role, sender, pair) = (node.role, node.sender, node.pair);
        let Some(d) = node.daemon() else { return };
        let flags = d.engine.flags(now);
        let claim = claim.unwrap_or(d.engine.claim_id());
        let mut out = Vec::new();
        for net in NetId::ALL.into_iter().filter(|&n| only.is_none_or(|o| o == n)) {
            for _ in 0..copies {
                d.seq = d.seq.next();
                out.push(Message {
                    kind,
                    role,
                    net,
                    flags,
                    sender,
                    generation: d.generation,
                    seq: d.seq,
                    // Another pair's are dropped on arrival (`admit`).
                    pair,
                    claim: Some(claim),
                });
            }
        }
        if let Some(m) = out.first() {
            self.check.sent(m);
        }
        for msg in out {
            self.wire(from, msg.net, msg);
        }
    }

    fn wire(&mut self, from: usize, net: NetId, msg: Message) {
        let to = 1 - from;
        let k = net.index();
        // What leaves the sender, the adversary on that network records,
        // also when the network then passes nothing to the peer.
        if self.n[from].link(net) {
            self.adversary.record(net, from, msg, self.now);
        }
        if !self.n[from].link(net) || !self.n[to].link(net) || self.now < self.blocked_until[k] {
            return;
        }
        let loss = if self.now < self.burst[k].1 { self.burst[k].0 } else { self.p.loss[k] };
        let copies = if self.rng.chance(self.p.dup) { 2 } else { 1 };
        for _ in 0..copies {
            if self.rng.chance(loss) {
                continue;
            }
            let delay = self.p.bias[k] + self.rng.range(0, self.p.delay_max[k]);
            self.schedule(self.now + delay, Ev::Deliver { to, net, msg });
        }
    }

    /// The simulated clock in generation units, as `Guard::now` reads the
    /// daemon's: never below a generation a node has taken.
    pub(super) fn clock_units(&self) -> u64 {
        self.generations + self.now * 1024
    }

    /// A genuine datagram arrives: through the node's intake, as the
    /// monitor's.
    fn deliver(&mut self, to: usize, net: NetId, msg: Message) {
        if !self.n[to].link(net) || self.now < self.blocked_until[net.index()] {
            return;
        }
        // The takeover twin: a datagram of the peer's current life reached
        // a running node, whatever the intake makes of it.
        let from = 1 - to;
        let live = self.n[from].daemon_ref().is_some_and(|d| d.generation == msg.generation);
        let ours = crate::proto::pair::admits(self.n[to].pair, msg.pair) && msg.role != self.n[to].role;
        let clock = self.clock_units();
        let Some(d) = self.n[to].daemon() else { return };
        let outcome = d.intake.classify(&msg, net, clock);
        // Unless it is a copy of one taken already (the adversary's copy
        // raced ahead of it): that one was the network carrying the peer.
        let copy = outcome == Outcome::Dropped(crate::proto::Reject::Replay);
        if msg.kind == crate::proto::Kind::Goodbye && matches!(outcome, Outcome::Peer { .. }) {
            // The peer is leaving (its process may be gone already):
            // nothing it said before counts.
            self.check.goodbye(to);
        } else if live && ours && !copy && self.n[to].running() {
            self.check.carried(to, net, msg.generation, self.now);
        }
        self.take(to, net, outcome);
    }

    /// What the intake said: the engine hears of the peer, or (two nodes
    /// of one role, issue 29) of its rival; in a world with one node of
    /// each role, a rival never comes out of a genuine datagram.
    pub(super) fn take(&mut self, to: usize, net: NetId, outcome: Outcome) {
        let now = self.now;
        let Outcome::Peer { heard, .. } = outcome else {
            if let Outcome::Rival { flags, outranks } = outcome {
                // Only a world with two nodes of one role has a rival.
                if self.p.same_role.is_none() {
                    self.check.problem(format!("{} took a datagram for a rival", self.n[to].name()));
                } else if self.n[to].running() {
                    self.input(to, Input::SameRole { flags, outranks });
                }
            }
            return;
        };
        self.accepted_once(to, net, &heard);
        let Some(d) = self.n[to].daemon() else { return };
        if now >= d.persisted_at + 1000 {
            // The monitor writes the floors at most once a second.
            let floors = d.intake.guard_mut().floors();
            d.persisted_at = now;
            self.n[to].state_file.floors = floors;
        }
        self.check.heard(to, net, self.now);
        self.input(to, heard.into());
    }

    // ----------------------------------------------------------------- mover

    fn next_job(&mut self, i: usize) {
        let Some(job) = self.n[i].queue.pop_front() else {
            self.n[i].job = None;
            return;
        };
        let life = self.n[i].life;
        let id = job.id;
        if job.reason == Reason::Shutdown {
            self.trace(format!("{} mover: removing the addresses to stop", self.n[i].name()));
        }
        self.n[i].job = Some(job);
        self.schedule(self.now, Ev::MoverStep { node: i, life, id, phase: 0 });
    }

    /// A job is a list of phases: each dropped address is removed at once;
    /// each moved address has a Pre hook, the ioctl and a Post hook.
    fn mover_step(&mut self, i: usize, life: u64, id: MoveId, phase: usize) {
        if self.n[i].life != life || self.n[i].job.as_ref().is_none_or(|j| j.id != id) {
            return;
        }
        let job = self.n[i].job.clone().expect("job");
        let nd = job.dropped.len();
        let total = nd + 3 * job.moving.len();
        if phase >= total {
            self.move_done(i, life, job);
            return;
        }
        let wait = if phase < nd {
            self.change(i, job.dropped[phase], false);
            0
        } else {
            let k = phase - nd;
            self.move_address_phase(i, job.moving[k / 3], job.dir == Direction::Acquire, k % 3)
        };
        self.schedule(self.now + wait, Ev::MoverStep { node: i, life, id, phase: phase + 1 });
    }

    /// One phase (0 the Pre hook, 1 the ioctl, 2 the Post hook) of moving
    /// `addr` to `target`; what the phase takes.
    fn move_address_phase(&mut self, i: usize, addr: usize, target: bool, phase: usize) -> u64 {
        // Hooks run on a secondary only (`daemon::mover::Job::new`): Pre before
        // the address change, Post after one that worked.
        let hooks = self.n[i].role == Role::Secondary;
        match phase {
            0 => {
                let wait = self.rng.range(0, self.p.hook_max);
                // The mover of branch `moves` runs the hooks of an
                // address the move changes only; with the switch off,
                // of every address of the move, as `mover::perform`
                // did before. Invariant (g) counts them.
                let needed = self.n[i].kernel[addr] != target;
                let all = !self.p.switches.hooks_only_changed;
                let pre = u32::from(hooks && (needed || all));
                if let Some(j) = self.n[i].job.as_mut() {
                    j.hooks.push(HookCount { addr, needed, pre, post: 0, changed: false });
                }
                wait
            }
            1 => {
                let ok = self.change(i, addr, target);
                if let Some(h) = self.n[i].job.as_mut().and_then(|j| j.hooks.last_mut()) {
                    h.changed = ok && h.needed;
                    h.post = u32::from(ok && h.pre > 0);
                }
                0
            }
            _ => self.rng.range(0, self.p.hook_max),
        }
    }

    /// The last phase is over: what the kernel holds is checked and
    /// reported to the engine, and the next job starts.
    fn move_done(&mut self, i: usize, life: u64, job: SimJob) {
        let id = job.id;
        let mut held = self.n[i].held();
        self.n[i].strays = job.dropped.iter().copied().filter(|&a| self.n[i].kernel[a]).collect();
        if held == crate::engine::Held::All && !self.n[i].strays.is_empty() && job.dir == Direction::Acquire {
            held = crate::engine::Held::Some;
        }
        self.trace(format!("{} move {id} done: kernel {:?} -> {held:?}", self.n[i].name(), self.n[i].kernel));
        let failed = held != crate::engine::Held::All && job.dir == Direction::Acquire
            || held != crate::engine::Held::None && job.dir == Direction::Release;
        if failed {
            self.n[i].failed_moves += 1;
        }
        let worked = match job.dir {
            Direction::Acquire => held == crate::engine::Held::All,
            Direction::Release => held == crate::engine::Held::None,
        };
        self.check.move_worked(i, worked);
        let run = self.n[i].role == Role::Secondary;
        self.check.hooks_of_move(self.n[i].name(), id, &job.hooks, run);
        self.next_job(i);
        let late = self.report_move(i, life, MoveReport { id, held, vetoed: false });
        if failed {
            self.count_retry_wait(i, job.reason == Reason::Shutdown, late);
        }
    }

    /// The move's report reaches the engine: at once, or (the monitor
    /// reads it among its other events) late now and then, and (issue 29)
    /// a second time. How late it is, if it is.
    fn report_move(&mut self, node: usize, life: u64, report: MoveReport) -> Option<u64> {
        let late = self.rng.chance(self.p.late_report);
        let mut lateness = None;
        if late {
            let at = self.now + self.rng.range(1, 2 * self.p.interval);
            self.schedule(at, Ev::Report { node, life, report });
            lateness = Some(at - self.now);
        } else {
            self.check.reported(node, report.vetoed);
            self.input(node, Input::Moved(report));
        }
        if self.rng.chance(self.p.dup_report) {
            let at = self.now + self.rng.range(0, 2 * self.p.interval);
            self.schedule(at, Ev::Report { node, life, report });
        }
        lateness
    }

    /// After a failed move: how long the engine waits before the retry,
    /// from the report: a late report's wait is counted then, and its
    /// lateness too (the retry's timer starts when the report is read;
    /// campaign seed 521360: three late reports of failed removals added
    /// 150 ms to a secondary's release with its public cable out).
    fn count_retry_wait(&mut self, i: usize, stop: bool, lateness: Option<u64>) {
        let late = lateness.is_some();
        let wait = self.n[i].daemon().map_or(0, |d| {
            if stop || d.engine.stopping() {
                // A stopping daemon's removals wait their own,
                // fixed time (seeds 372680, 579832).
                return d.engine.stop_retry_delay().as_millis() as u64;
            }
            let now = d.engine.retry_delay();
            // Not read yet: the wait it will set, at most one doubling on.
            let then = if late { (now * 2).min(crate::engine::RETRY_CAP) } else { now };
            then.as_millis() as u64
        });
        self.n[i].retry_waits += wait + lateness.unwrap_or(0);
    }

    /// One address change; false when the ioctl fails.
    fn change(&mut self, i: usize, addr: usize, present: bool) -> bool {
        // An interface that is gone takes no address.
        if self.rng.chance(self.n[i].fail) || present && self.n[i].gone {
            self.trace(format!("{} ioctl fails for address {addr}", self.n[i].name()));
            return false;
        }
        self.n[i].kernel[addr] = present;
        true
    }

    // ---------------------------------------------------------------- faults

    fn fault(&mut self) {
        if self.faults_left == 0 {
            let at = self.now + self.p.dead_after;
            self.schedule(at, Ev::Heal);
            return;
        }
        self.faults_left -= 1;
        let gap = self.rng.range(self.p.interval, self.p.fault_gap_max);
        self.schedule(self.now + gap, Ev::Fault);
        let i = if self.rng.chance(0.5) { P } else { S };
        let name = self.n[i].name();
        let dur = self.rng.range(self.p.interval, 6 * self.p.dead_after);
        // Outside actors (issue 29), drawn rarely enough that the faults
        // below keep their share.
        if self.rng.chance(0.2) {
            return self.outside_actor(i, dur);
        }
        match self.rng.range(0, 11) {
            0 => {
                let net = *self.rng.pick(&NetId::ALL);
                self.trace(format!("fault: {name} {} cable pulled for {dur} ms", net.as_str()));
                self.cable(i, net, false);
                self.schedule(self.now + dur, Ev::Undo(Undo::Plug { node: i, nets: vec![net] }));
            }
            1 => {
                self.trace(format!("fault: {name} falls off both networks for {dur} ms"));
                self.cable(i, NetId::Private, false);
                self.cable(i, NetId::Public, false);
                self.schedule(self.now + dur, Ev::Undo(Undo::Plug { node: i, nets: NetId::ALL.to_vec() }));
            }
            2 => {
                let net = *self.rng.pick(&NetId::ALL);
                self.trace(format!("fault: {} network passes nothing for {dur} ms", net.as_str()));
                self.blocked_until[net.index()] = self.now + dur;
            }
            3 => {
                let net = *self.rng.pick(&NetId::ALL);
                let loss = *self.rng.pick(&[0.3, 0.6, 0.9]);
                self.trace(format!("fault: {} network loses {loss} for {dur} ms", net.as_str()));
                self.burst[net.index()] = (loss, self.now + dur);
            }
            4 if self.n[i].alive() => self.kill_fault(i, dur),
            5 if self.n[i].running() => {
                self.trace(format!("fault: {name} stopped (SIGTERM), started again in {dur} ms"));
                self.input(i, Input::Shutdown);
                self.schedule(self.now + dur, Ev::Undo(Undo::Start { node: i, state: StateFate::Kept }));
            }
            6 if self.n[i].running() => self.freeze(i, dur),
            7 => self.reload_fault(i),
            10 => {
                self.trace(format!("fault: {name} service checks fail for {dur} ms"));
                self.schedule(self.now, Ev::Undo(Undo::Fitness { node: i, fit: false }));
                self.schedule(self.now + dur, Ev::Undo(Undo::Fitness { node: i, fit: true }));
            }
            8 if self.n[i].running() => {
                let c = if self.rng.chance(0.5) { Command::Takeover } else { Command::Release };
                self.trace(format!("operator on {name}: {c:?}"));
                self.input(i, Input::Command(c));
            }
            9 if self.p.switches.repeated_failures => self.moves_fail(i, dur),
            _ => {}
        }
    }

    /// Fault: node `i` killed (SIGKILL), started again after `dur` with
    /// its state file kept, lost or corrupt.
    fn kill_fault(&mut self, i: usize, dur: u64) {
        let name = self.n[i].name();
        let fate = *self.rng.pick(&[StateFate::Kept, StateFate::Kept, StateFate::Lost, StateFate::Corrupt]);
        self.trace(format!("fault: {name} killed (SIGKILL), back in {dur} ms with state {fate:?}"));
        self.kill(i, Some(self.now + dur));
        self.schedule(self.now + dur, Ev::Undo(Undo::Start { node: i, state: fate }));
    }

    /// Fault: node `i` frozen (SIGSTOP) for `dur`.
    fn freeze(&mut self, i: usize, dur: u64) {
        let name = self.n[i].name();
        self.trace(format!("fault: {name} frozen (SIGSTOP) for {dur} ms"));
        let Proc::Up(d) = std::mem::replace(&mut self.n[i].proc, Proc::Down(None)) else { unreachable!() };
        self.n[i].proc = Proc::Frozen(d);
        self.schedule(self.now + dur, Ev::Undo(Undo::Thaw { node: i }));
    }

    /// Fault: node `i`'s address changes fail now and then for `dur`.
    fn moves_fail(&mut self, i: usize, dur: u64) {
        let name = self.n[i].name();
        let p = *self.rng.pick(&[0.3, 0.7, 1.0]);
        self.trace(format!("fault: {name} address changes fail with p={p} for {dur} ms"));
        self.n[i].fail = p;
        self.schedule(self.now + dur, Ev::Undo(Undo::MovesWork { node: i }));
    }

    /// Someone other than the daemons acts on a node: an administrator
    /// removes or adds a service address by hand, the public interface
    /// disappears (its addresses go with it) and comes back, both nodes are
    /// started at the same instant, or one node's pair name is changed at
    /// a restart. The daemon's address watch tells the engine what the
    /// kernel shows (`Input::Kernel`) when its addresses change.
    fn outside_actor(&mut self, i: usize, dur: u64) {
        let name = self.n[i].name();
        let on = self.p.switches;
        match self.rng.range(0, 6) {
            5 if self.n[P].running() && self.n[S].link(NetId::Public) => self.standby_must_cover(dur),
            4 if on.squatter => self.squatter(dur),
            0 | 1 if on.address_by_hand => self.address_by_hand(i),
            2 if on.interface_gone => {
                self.trace(format!("{name}'s public interface disappears for {dur} ms, with its addresses"));
                self.n[i].kernel.iter_mut().for_each(|k| *k = false);
                self.n[i].gone = true;
                self.cable(i, NetId::Public, false);
                self.watch(i);
                self.schedule(self.now + dur, Ev::Undo(Undo::Plug { node: i, nets: vec![NetId::Public] }));
            }
            3 if on.restarts && self.rng.chance(0.5) => {
                self.trace(format!(
                    "both nodes killed (SIGKILL) and started again at the same instant in {dur} ms"
                ));
                let order = if self.rng.chance(0.5) { [P, S] } else { [S, P] };
                for node in order {
                    if self.n[node].alive() {
                        self.kill(node, Some(self.now + dur));
                        self.schedule(self.now + dur, Ev::Undo(Undo::Start { node, state: StateFate::Kept }));
                    }
                }
            }
            3 if on.restarts && self.n[i].running() && self.n[i].pair_file == PAIR => {
                self.rename_pair(i, dur)
            }
            _ => {}
        }
    }

    /// Outside actor: the operator stands the primary down, and the
    /// secondary's public cable is pulled: the standby primary must cover.
    /// Half the time the cable stays out beyond (f)'s bound and no fault
    /// comes meanwhile: a standby primary that does not cover leaves
    /// nobody serving for longer than (f) allows (without it, the next
    /// fault or the cable came back first in 30,000 seeds:
    /// tests/data/hand-mutants/11-standby-hole.patch survived).
    fn standby_must_cover(&mut self, dur: u64) {
        let dur = if self.rng.chance(0.5) {
            dur
        } else {
            let long = dur + self.check.served_bound_now(self);
            self.calm_until = self.now + long;
            long
        };
        self.trace(format!("operator on P: Release; S public cable pulled for {dur} ms"));
        self.input(P, Input::Command(Command::Release));
        self.cable(S, NetId::Public, false);
        self.schedule(self.now + dur, Ev::Undo(Undo::Plug { node: S, nets: vec![NetId::Public] }));
    }

    /// Outside actor: a third host takes an address for `dur` and answers
    /// probes for it.
    fn squatter(&mut self, dur: u64) {
        let a = self.rng.range(0, self.p.addresses as u64 - 1) as usize;
        if self.squatted[a] {
            return;
        }
        self.trace(format!("a third host takes address {a} for {dur} ms and answers probes for it"));
        self.squatted[a] = true;
        self.check.cable(S, self.now);
        // As the adversary's squatter: (b) counts from its end.
        self.check.squatted(self.now + dur);
        self.schedule(self.now + dur, Ev::Undo(Undo::Squatter { addr: a }));
    }

    /// Outside actor: an administrator removes or adds an address of node
    /// `i` by hand.
    fn address_by_hand(&mut self, i: usize) {
        let name = self.n[i].name();
        let a = self.rng.range(0, self.p.addresses as u64 - 1) as usize;
        let add = !self.n[i].kernel[a];
        if add && self.n[i].gone {
            return;
        }
        self.trace(format!(
            "administrator on {name}: {} address {a} by hand",
            if add { "adds" } else { "removes" }
        ));
        self.n[i].kernel[a] = add;
        // A second owner made by hand is a disturbance of (a).
        self.check.cable(i, self.now);
        self.watch(i);
    }

    /// Outside actor: the operator renames node `i`'s pair and restarts
    /// it; the name is put right after `dur`.
    fn rename_pair(&mut self, i: usize, dur: u64) {
        let name = self.n[i].name();
        self.trace(format!("operator renames {name}'s pair and restarts it; put right in {dur} ms"));
        self.n[i].pair_file = OTHER_PAIR;
        self.input(i, Input::Shutdown);
        self.schedule(self.now + self.p.interval, Ev::Undo(Undo::Start { node: i, state: StateFate::Kept }));
        self.schedule(self.now + dur, Ev::Undo(Undo::PairName { node: i }));
    }

    /// The operator edits both files (timing, failback, the address list)
    /// and sends SIGHUP to one node now and to the other a little later.
    fn reload_fault(&mut self, first: usize) {
        let mut configured = self.n[first].configured.clone();
        if self.p.addresses > 1 && self.rng.chance(0.5) {
            let a = self.rng.range(1, self.p.addresses as u64 - 1) as usize;
            configured[a] = !configured[a];
        }
        let recover = self.p.interval * self.rng.range(0, 5);
        let later = self.rng.range(0, 2_000);
        self.trace(format!(
            "operator reloads {} now and the other node in {later} ms: {configured:?}",
            self.n[first].name()
        ));
        for (i, at) in [(first, self.now), (1 - first, self.now + later)] {
            let mut settings = self.p.settings(self.n[i].role, recover);
            settings.failback = if self.rng.chance(0.2) { Failback::Manual } else { self.p.failback };
            self.schedule(at, Ev::Undo(Undo::Reload { node: i, configured: configured.clone(), settings }));
        }
    }

    fn undo(&mut self, u: Undo) {
        match u {
            Undo::Plug { node, nets } => self.plug(node, nets),
            Undo::Start { node, state } => self.start_when_stopped(node, state),
            Undo::Thaw { node } => self.thaw(node),
            Undo::Reload { node, configured, settings } => self.sighup(node, configured, settings),
            Undo::Watch { node } => {
                if self.n[node].running() {
                    let held = self.n[node].held();
                    self.trace(format!("{} address watch: the kernel shows {held:?}", self.n[node].name()));
                    self.input(node, Input::Kernel(held));
                }
            }
            Undo::PairName { node } => self.pair_name_put_right(node),
            Undo::MovesWork { node } => self.n[node].fail = if self.healed { 0.0 } else { self.p.fail },
            Undo::Fitness { node, fit } => {
                if self.healed && !fit {
                    return;
                }
                self.n[node].fit = fit;
                self.check.cable(node, self.now);
                self.input(node, Input::Fitness { fit });
            }
            Undo::Link { node, net, up } => self.input(node, Input::Link { net, up }),
            Undo::Squatter { addr } => {
                if self.squatted[addr] {
                    self.trace(format!("the third host gives address {addr} up"));
                    self.squatted[addr] = false;
                    self.check.cable(S, self.now);
                }
            }
        }
    }

    /// The cables of `nets` go back in (an interface that was gone is
    /// back with the public one), unless the world has healed already.
    fn plug(&mut self, node: usize, nets: Vec<NetId>) {
        if self.healed {
            return;
        }
        if nets.contains(&NetId::Public) {
            self.n[node].gone = false;
        }
        for net in nets {
            self.cable(node, net, true);
        }
    }

    /// The operator's start of a node, once its daemon has exited.
    fn start_when_stopped(&mut self, node: usize, state: StateFate) {
        if !self.n[node].alive() {
            self.boot(node, state);
        } else if self.n[node].daemon_ref().is_some_and(|d| !d.engine.stopping()) {
            // Started already (two restarts asked for at once).
        } else {
            // Still stopping (a move to finish first): start it once
            // it has exited, as an rc script's restart would.
            self.schedule(self.now + self.p.interval, Ev::Undo(Undo::Start { node, state }));
        }
    }

    /// The operator's SIGHUP: the edited file is read and the engine is
    /// told of the reload; the address list waits for `Action::Reconfigure`.
    fn sighup(&mut self, node: usize, configured: Vec<bool>, settings: Settings) {
        self.n[node].settings = settings;
        self.check.reloaded(node, settings.timing.recover_after.as_millis() as u64);
        self.n[node].file = configured.clone();
        if !self.n[node].alive() {
            return;
        }
        let changed = configured != self.n[node].configured || self.staged[node].is_some();
        self.trace(format!("{} gets SIGHUP", self.n[node].name()));
        self.staged[node] = Some(configured);
        self.input(node, Input::Reload(Reload { settings, addresses_changed: changed }));
    }

    /// The operator puts a wrong pair name right and restarts the node.
    fn pair_name_put_right(&mut self, node: usize) {
        // Done when the file is right and no daemon of the wrong
        // name still runs (one frozen at the first restart).
        if self.n[node].pair_file == PAIR && (!self.n[node].alive() || self.n[node].pair == PAIR) {
            return;
        }
        self.n[node].pair_file = PAIR;
        // The operator's restart reaches a stopped process too.
        self.thaw(node);
        self.trace(format!("operator puts {}'s pair name right and restarts it", self.n[node].name()));
        if self.n[node].running() {
            self.input(node, Input::Shutdown);
        }
        self.schedule(self.now + self.p.interval, Ev::Undo(Undo::Start { node, state: StateFate::Kept }));
    }

    /// The address watch of node `i` reads the kernel now; a frozen
    /// daemon reads it at its thaw.
    fn watch(&mut self, i: usize) {
        if matches!(self.n[i].proc, Proc::Frozen(..)) {
            self.n[i].held_back.push(Ev::Undo(Undo::Watch { node: i }));
        } else {
            self.undo(Undo::Watch { node: i });
        }
    }

    fn cable(&mut self, i: usize, net: NetId, up: bool) {
        self.n[i].plugged[net.index()] = up;
        self.check.cable(i, self.now);
        // The reader hears of it through netlink a moment later.
        self.schedule(self.now + 1, Ev::Undo(Undo::Link { node: i, net, up }));
    }

    fn thaw(&mut self, i: usize) {
        let Proc::Frozen(..) = self.n[i].proc else { return };
        let Proc::Frozen(d) = std::mem::replace(&mut self.n[i].proc, Proc::Down(None)) else {
            unreachable!()
        };
        self.n[i].proc = Proc::Up(d);
        self.trace(format!("{} thawed", self.n[i].name()));
        // At once and in order, before anything queued meanwhile for this
        // instant: a socket's backlog (a netlink link-down, then its
        // link-up) is read in the order it was written.
        for ev in std::mem::take(&mut self.n[i].held_back) {
            self.event(ev);
        }
    }

    /// The end of the faults: cables in, networks clean, every daemon
    /// running with the same configuration; then the pair must settle.
    fn heal(&mut self) {
        self.trace("heal: every fault is undone".into());
        self.healed = true;
        self.check.healed_at = self.now;
        self.blocked_until = [0, 0];
        self.burst = [(0.0, 0), (0.0, 0)];
        self.p.loss = [0.0, 0.0];
        self.squatted.iter_mut().for_each(|q| *q = false);
        // The outside actors' squatter goes too; the rest of the adversary stays.
        self.adversary.squat = None;
        for i in [P, S] {
            self.n[i].fail = 0.0;
            self.n[i].gone = false;
            if !self.n[i].fit {
                self.schedule(self.now, Ev::Undo(Undo::Fitness { node: i, fit: true }));
            }
            for net in NetId::ALL {
                if !self.n[i].link(net) {
                    self.cable(i, net, true);
                }
            }
            self.thaw(i);
        }
        // Pending operator steps still happen (a second SIGHUP, a restart).
        let pending: Vec<Ev> = std::mem::take(&mut self.events).into_values().collect();
        for ev in pending {
            match ev {
                Ev::Fault | Ev::Heal | Ev::Undo(Undo::Plug { .. }) => {}
                // The operator finishes editing both files now.
                Ev::Undo(u @ Undo::Reload { .. }) => self.undo(u),
                other => self.schedule(self.now, other),
            }
        }
        for i in [P, S] {
            if self.n[i].pair_file != PAIR || self.n[i].alive() && self.n[i].pair != PAIR {
                self.undo(Undo::PairName { node: i });
            }
            if !self.n[i].alive() && !matches!(self.n[i].proc, Proc::Down(Some(_))) {
                self.boot(i, StateFate::Kept);
            }
        }
        if self.n[P].file != self.n[S].file {
            let configured = self.n[P].file.clone();
            let settings = self.n[S].settings;
            self.schedule(self.now, Ev::Undo(Undo::Reload { node: S, configured, settings }));
        }
    }
}

fn ceil_ms(d: Duration) -> u64 {
    d.as_micros().div_ceil(1000) as u64
}
