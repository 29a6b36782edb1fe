//! Replaying an explorer path in the timed simulator: the same steps, taken by
//! [`Simulation`]'s own handlers, trace and checkers.
//!
//! The explorer and the simulator share the protocol code and the checkers, but not the
//! loop that drives them. A counterexample the explorer found is only as good as that
//! loop; replaying it in the simulator shows that the simulator's loop reaches the same
//! states and that the simulator's checkers (which may differ from the model's
//! invariants: the ABD scenario judges linearizability at the end of a run) fail too.
//!
//! The simulator is driven by a script instead of its network's random draws: messages
//! are held when sent and delivered, dropped or duplicated when the path says, timers fire
//! when the path fires them (which must be when the node's clock says they are due), and
//! client commands arrive when the path issues them, each at the path's true time. Nodes
//! get the explorer's protocol seeds and clock origins, so their states can be compared:
//! after every step, each node's protocol state and durable state must be the explorer's,
//! and so must the messages in flight (every one the explorer has, the simulator holds;
//! without an obsolete-message hook, nothing more), or the replay stops with an error
//! naming the step.
//!
//! Two verdicts come back: the simulator's own checkers' (what `palisade sim` would say of
//! this run), and the model's invariants and "eventually" properties judged on the
//! simulator's world (what the explorer said, on the simulator's states).

use super::state::{Choice, StepChoice, Traced, XState, durable_fp, fingerprint_of, mono_origin, node_seed};
use super::{Path, Setup};
use crate::sim::{Identity, ScriptStep};
use crate::{RunReport, SimConfig, Simulation};
use palisade_core::{NodeId, Protocol, RequestId, Violation};
use std::collections::BTreeMap;
use std::hash::Hash;

/// A path replayed in the timed simulator.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SimReplay {
    /// The simulator's report: the first violation of the simulator's own checkers (`None`
    /// if none failed; its `cause` is `end of run` for an end-of-run checker), events, time
    /// and trace hash.
    pub report: RunReport,
    /// The model's first invariant or "eventually" property to fail on the simulator's
    /// world, with the number of steps taken when it did (0: the initial state).
    pub model: Option<(usize, Violation)>,
    /// The replayed run as JSON lines in the simulator's trace format, in true time (for
    /// `palisade diagram`).
    pub trace: String,
    /// Steps taken (the path's choices, or fewer if a violation stopped it early).
    pub steps: usize,
}

/// What the explorer's state looks like at one point of the path: each node's protocol and
/// durable state, fingerprinted, and the messages in flight (sender, receiver, encoding),
/// sorted.
#[derive(PartialEq)]
struct Snapshot {
    nodes: Vec<(u128, u128)>,
    flight: Vec<(NodeId, NodeId, Vec<u8>)>,
}

/// One step planned from the explorer's replay of the path: what to do, at what true time,
/// and what the explorer looked like after it.
struct Planned {
    at_ns: u64,
    step: Choice,
    /// Sender, receiver and encoding of the message a delivery, drop or duplicate acts on.
    message: Option<(NodeId, NodeId, Vec<u8>)>,
    after: Snapshot,
}

/// The explorer's replay of a path, for the simulator to follow.
struct Plan {
    start: Snapshot,
    steps: Vec<Planned>,
    /// The true time each message is delivered or dropped at, in the order they are sent.
    deliver_at: Vec<u64>,
    /// The last step's true time.
    end_ns: u64,
}

/// Each node's protocol and durable state, fingerprinted.
fn node_states<P: Protocol + Hash>(world: &crate::World<P>) -> Vec<(u128, u128)> {
    let durable = |d: &Option<std::rc::Rc<P::Durable>>| d.as_deref().map(durable_fp);
    world
        .nodes
        .iter()
        .zip(&world.durable)
        .map(|(n, d)| (fingerprint_of(n), fingerprint_of(&durable(d))))
        .collect()
}

/// Replays `path` (a [`super::Counterexample`]'s, or any path through `setup`'s model, found
/// with the same setup and `obsolete` hook) in a [`Simulation`] of `setup`'s nodes,
/// protocol configuration and clock rates; `add_checkers` adds the simulator's checkers (a
/// scenario's own). The run stops early only if one of those fails; `setup`'s invariants
/// are judged on the simulator's world after every step, and its "eventually" properties
/// where the path ends ([`SimReplay::model`]). `Err` when the path is not one of `setup`'s,
/// or the simulator cannot take a step the path takes or takes it to a different state: the
/// two loops disagree, which is a bug in one of them or a protocol that is not a function
/// of its inputs.
pub fn replay_in_simulator<P>(
    setup: &Setup<P>,
    path: &Path,
    add_checkers: impl FnOnce(&mut Simulation<P>),
) -> Result<SimReplay, String>
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let Some(StepChoice::Start(drifts)) = path.choices.first() else {
        return Err("a path starts with its clock rates".into());
    };
    let plan = plan(setup, path, drifts)?;
    // Each node's seed in each incarnation the path reaches, ahead of time: the explorer's
    // seeds depend on the setup, which the simulator cannot keep.
    let restarts =
        |id: NodeId| path.choices.iter().filter(|c| **c == StepChoice::Made(Choice::Restart(id))).count();
    let seeds: Vec<Vec<u64>> = (1..=setup.nodes)
        .map(NodeId)
        .map(|id| (0..=restarts(id) as u32).map(|inc| node_seed(setup, id, inc)).collect())
        .collect();
    let identity: Identity = Box::new(move |i, incarnation| {
        let inc = incarnation.saturating_sub(1);
        let seed = seeds.get(i).and_then(|s| s.get(inc as usize)).copied().unwrap_or_default();
        (seed, mono_origin(u32::try_from(inc).unwrap_or(u32::MAX)))
    });
    let config = SimConfig::new(0, setup.nodes).drift_ppm(drifts.clone());
    let mut sim = Simulation::scripted(config, setup.config.clone(), identity, plan.deliver_at, plan.end_ns);
    sim.export_trace(Vec::<u8>::new());
    add_checkers(&mut sim);
    let invariants = |sim: &Simulation<P>| {
        setup.invariants.iter().chain(&setup.history_invariants).find_map(|c| c(sim.world()).err())
    };
    let mut issued = vec![0u64; setup.nodes as usize];
    // Without the hook (or with it off) the simulator must hold exactly what the explorer has
    // in flight; with it, the simulator, which never forgets, may hold more.
    let exact = setup.obsolete.is_none() || !path.forget_obsolete;
    let mut found: Option<Violation> = sim.script_start();
    same_states(&sim, &plan.start, exact).map_err(|what| format!("at the start, the simulator's {what}"))?;
    let mut model = invariants(&sim).map(|v| (0, v));
    let mut steps = 0;
    for (k, p) in plan.steps.into_iter().enumerate() {
        if found.is_some() {
            break;
        }
        // Set for every step that acts on a message (`XState::message`).
        let (from, to, bytes) = p.message.unwrap_or((NodeId(0), NodeId(0), Vec::new()));
        let step = match p.step {
            Choice::Deliver(_) => ScriptStep::Deliver { from, to, bytes },
            Choice::Drop(_) => ScriptStep::Drop { from, to, bytes },
            Choice::Duplicate(_) => ScriptStep::Duplicate { from, to, bytes },
            Choice::Timer(id) => ScriptStep::Timer(id),
            Choice::Crash(id) => ScriptStep::Crash(id),
            Choice::Restart(id) => ScriptStep::Restart(id),
            Choice::Command(id) => {
                let i = id.0 as usize - 1;
                let Some(cmd) = (setup.workload)(id, issued[i] as usize, sim.world().history()) else {
                    return Err(format!(
                        "step {}: the workload gives {id} no command in the simulator",
                        k + 1
                    ));
                };
                issued[i] += 1;
                ScriptStep::Command { node: id, req: RequestId(issued[i]), cmd }
            }
        };
        found = sim.script_step(p.at_ns, step).map_err(|e| format!("step {}: {e}", k + 1))?;
        steps += 1;
        same_states(&sim, &p.after, exact)
            .map_err(|what| format!("step {}: after {:?}, the simulator's {what}", k + 1, p.step))?;
        if model.is_none() {
            model = invariants(&sim).map(|v| (k + 1, v));
        }
    }
    // The explorer judges "eventually" properties where a path ends; so does the replay.
    if model.is_none() && found.is_none() {
        model = setup.at_end.iter().find_map(|c| c(sim.world()).err()).map(|v| (steps, v));
    }
    let report = sim.script_end(found);
    let _ = sim.finish_trace();
    let trace = sim
        .take_trace_export::<Vec<u8>>()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(SimReplay { report, model, trace, steps })
}

/// `Err` naming what differs unless the simulator's nodes, durable states and messages
/// are those of `expected`: the same messages in flight if `exact`, else at least them.
fn same_states<P: Protocol + Clone + Hash>(
    sim: &Simulation<P>,
    expected: &Snapshot,
    exact: bool,
) -> Result<(), String> {
    if node_states(sim.world()) != expected.nodes {
        return Err("nodes (protocol or durable state) are not the explorer's".into());
    }
    let held = sim.script_held();
    let same = if exact { held == expected.flight } else { contains_all(&held, &expected.flight) };
    if !same {
        return Err("messages in flight are not the explorer's".into());
    }
    Ok(())
}

/// Whether sorted `all` holds every element of sorted `some`, as many times as `some` does.
fn contains_all<T: Ord>(all: &[T], some: &[T]) -> bool {
    let mut it = all.iter();
    some.iter().all(|x| it.by_ref().any(|y| y == x))
}

/// Replays the path in the explorer, noting what the simulator must do and look like.
fn plan<P>(setup: &Setup<P>, path: &Path, drifts: &[i64]) -> Result<Plan, String>
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let mut out: Vec<Traced> = Vec::new();
    let mut state =
        XState::start(setup, drifts, false, path.forget_obsolete, &mut Some(&mut |t| out.push(t)));
    // Each message sent gets an ordinal; deliveries and drops find theirs by sender,
    // receiver and content, oldest first.
    let mut deliver_at: Vec<u64> = Vec::new();
    let mut pending: BTreeMap<(u32, u32, String), Vec<usize>> = BTreeMap::new();
    let mut account = |events: &mut Vec<Traced>, at_ns: u64, deliver_at: &mut Vec<u64>| {
        for ev in events.drain(..) {
            match ev {
                Traced::Send { from, to, msg } => {
                    pending.entry((from.0, to.0, msg.to_string())).or_default().push(deliver_at.len());
                    deliver_at.push(u64::MAX);
                }
                Traced::Deliver { from, to, msg } | Traced::Drop { from, to, msg } => {
                    if let Some(v) = pending.get_mut(&(from.0, to.0, msg.to_string()))
                        && !v.is_empty()
                    {
                        deliver_at[v.remove(0)] = at_ns;
                    }
                }
                _ => {}
            }
        }
    };
    account(&mut out, 0, &mut deliver_at);
    let snapshot =
        |state: &XState<P>| Snapshot { nodes: node_states(&state.world), flight: state.in_flight() };
    let start = snapshot(&state);
    let mut steps = Vec::new();
    for (k, choice) in path.choices.iter().enumerate().skip(1) {
        let StepChoice::Made(choice) = choice else { continue };
        if !state.choices(setup).contains(choice) {
            return Err(format!(
                "step {k}: {choice:?} is not a choice of this model here: the path was found with another setup (or another obsolete-message hook)"
            ));
        }
        let message = state.message(choice).map(|(f, t, b)| (f, t, b.to_vec()));
        let step = state.apply_traced(setup, choice, &mut Some(&mut |t| out.push(t)));
        let at_ns = step.at.as_nanos() as u64;
        account(&mut out, at_ns, &mut deliver_at);
        steps.push(Planned { at_ns, step: choice.clone(), message, after: snapshot(&state) });
    }
    let end_ns = steps.last().map_or(0, |p| p.at_ns);
    for d in &mut deliver_at {
        if *d == u64::MAX {
            *d = end_ns;
        }
    }
    Ok(Plan { start, steps, deliver_at, end_ns })
}

#[cfg(test)]
mod tests;
