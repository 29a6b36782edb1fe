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
//! after every step, each node's protocol state, its durable state and the time must be
//! the explorer's, or the replay stops with an error naming the step.

use super::state::{Choice, StepChoice, Traced, XState, encode, fingerprint_of, mono_origin, node_seed};
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
    /// The simulator's report: the first violation its checkers or the model's invariants
    /// found (`None` if the path meets none), events, time and trace hash.
    pub report: RunReport,
    /// The replayed run as JSON lines in the simulator's trace format, in true time (for
    /// `palisade diagram`).
    pub trace: String,
    /// Steps taken (the path's choices, or fewer if a violation stopped it early).
    pub steps: usize,
}

/// One step planned from the explorer's replay of the path: what to do, at what true time,
/// and what the nodes must look like after it.
struct Planned {
    at_ns: u64,
    step: Choice,
    /// Sender, receiver and encoding of the message a delivery, drop or duplicate acts on.
    message: Option<(NodeId, NodeId, Vec<u8>)>,
    /// Each node's protocol and durable state after the step, fingerprinted.
    after: Vec<(u128, u128)>,
}

/// Each node's protocol and durable state, fingerprinted.
fn node_states<P: Protocol + Hash>(world: &crate::World<P>) -> Vec<(u128, u128)> {
    let durable = |d: &Option<P::Durable>| d.as_ref().map(|d| fingerprint_of(&encode(d)));
    world
        .nodes
        .iter()
        .zip(&world.durable)
        .map(|(n, d)| (fingerprint_of(n), fingerprint_of(&durable(d))))
        .collect()
}

/// Replays `path` (a [`super::Counterexample`]'s, or any path through `setup`'s model) in
/// a [`Simulation`] of `setup`'s nodes, protocol configuration and clock rates;
/// `add_checkers` adds the simulator's checkers (a scenario's own), `setup`'s invariants
/// run after them on every step, and its "eventually" properties where the path ends,
/// before the simulator's own end-of-run checkers. `Err` when the simulator cannot take a step
/// the path takes, or takes it to a different state: the two loops disagree, which is a
/// bug in one of them.
pub fn replay_in_simulator<P>(
    setup: &Setup<P>,
    path: &Path,
    add_checkers: impl FnOnce(&mut Simulation<P>),
) -> Result<SimReplay, String>
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let Some(StepChoice::Start(drifts)) = path.0.first() else {
        return Err("a path starts with its clock rates".into());
    };
    let (plan, deliver_at, end_ns) = plan(setup, &path.0, drifts);
    // Each node's seed in each incarnation the path reaches, ahead of time: the explorer's
    // seeds depend on the setup, which the simulator cannot keep.
    let restarts =
        |id: NodeId| path.0.iter().filter(|c| **c == StepChoice::Made(Choice::Restart(id))).count();
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
    let mut sim = Simulation::scripted(config, setup.config.clone(), identity, deliver_at, end_ns);
    sim.export_trace(Vec::<u8>::new());
    add_checkers(&mut sim);
    let invariants = |sim: &Simulation<P>| setup.invariants.iter().find_map(|c| c(sim.world()).err());
    let mut issued = vec![0u64; setup.nodes as usize];
    let mut found: Option<Violation> = sim.script_start().or_else(|| invariants(&sim));
    let mut steps = 0;
    for (k, p) in plan.into_iter().enumerate() {
        if found.is_some() {
            break;
        }
        let (message, bytes) = match p.message {
            Some((from, to, bytes)) => ((from, to), bytes),
            None => ((NodeId(0), NodeId(0)), Vec::new()),
        };
        let (from, to) = message;
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
        if node_states(sim.world()) != p.after {
            return Err(format!(
                "step {}: the simulator's nodes are not in the states the explorer's are after {:?}",
                k + 1,
                p.step
            ));
        }
        found = found.or_else(|| invariants(&sim));
    }
    // The explorer judges "eventually" properties where a path ends; so does the replay.
    let report = sim.script_end(found, |w| setup.at_end.iter().find_map(|c| c(w).err()));
    let _ = sim.finish_trace();
    let trace = sim
        .take_trace_export::<Vec<u8>>()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(SimReplay { report, trace, steps })
}

/// Replays the path in the explorer: each step's plan, the true time each message will be
/// delivered or dropped at (in the order messages are sent), and the last step's time.
fn plan<P>(setup: &Setup<P>, path: &[StepChoice], drifts: &[i64]) -> (Vec<Planned>, Vec<u64>, u64)
where
    P: Protocol + Clone + Hash,
    P::Config: Clone,
{
    let mut out: Vec<Traced> = Vec::new();
    let mut state = XState::start(setup, drifts, false, &mut Some(&mut |t| out.push(t)));
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
    let mut plan = Vec::new();
    for choice in path.iter().skip(1) {
        let StepChoice::Made(choice) = choice else { continue };
        let message = state.message(choice).map(|(f, t, b)| (f, t, b.to_vec()));
        let step = state.apply_traced(setup, choice, &mut Some(&mut |t| out.push(t)));
        let at_ns = step.at.as_nanos() as u64;
        account(&mut out, at_ns, &mut deliver_at);
        plan.push(Planned { at_ns, step: choice.clone(), message, after: node_states(&state.world) });
    }
    let end_ns = plan.last().map_or(0, |p| p.at_ns);
    for d in &mut deliver_at {
        if *d == u64::MAX {
            *d = end_ns;
        }
    }
    (plan, deliver_at, end_ns)
}

#[cfg(test)]
mod tests;
