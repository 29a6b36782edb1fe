//! System models as data: what a protocol assumes about timing, node failures, clocks and
//! the network (DDIA ch. 8, "System Model and Reality"; Dwork, Lynch and Stockmeyer 1988
//! for partial synchrony).
//!
//! A protocol is correct only with respect to a model. Each protocol module states its model
//! in prose and exports it as a [`SystemModel`] value; a simulation scenario carries one, the
//! simulator's random nemesis draws only the faults it admits (and within its fault budget),
//! and a checker judges a run against it. A violation inside the model is a bug; a violation
//! under a fault the model does not admit is a demonstration of why the model matters.
//!
//! ```
//! use palisade_core::model::{ClockModel, NetworkModel, NodeFaults, SystemModel, Timing};
//! use std::time::Duration;
//!
//! // A majority-quorum register: partially synchronous, crash-recovery with stable storage,
//! // any network misbehaviour, clocks irrelevant (no wall-clock steps needed or harmful).
//! let model = SystemModel {
//!     timing: Timing::PartiallySynchronous,
//!     nodes: NodeFaults::CrashRecovery,
//!     clocks: ClockModel { max_drift_ppm: 200, max_wall_step: Some(Duration::from_secs(2)), max_offset: None },
//!     network: NetworkModel::UNRELIABLE,
//!     max_down: None,
//! };
//! assert!(model.admits_restarts());
//! println!("{model}");
//! ```

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// What a protocol assumes about time: how long messages and processing may take.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Timing {
    /// Known bounds hold at all times: one-way delay at most `max_delay`, a process never
    /// stops for longer than `max_pause`. Partitions and longer pauses are outside the model.
    Synchronous {
        /// Longest one-way message delay.
        max_delay: Duration,
        /// Longest process pause.
        max_pause: Duration,
    },
    /// Bounds exist but hold only after an unknown global stabilisation time (GST): before
    /// it, anything the network and scheduler can do is admitted. Safety must hold always;
    /// liveness is promised within bounds after GST.
    PartiallySynchronous,
    /// No bounds at all: messages and processes may be arbitrarily slow forever. Safety must
    /// hold; no timing-based liveness is promised.
    Asynchronous,
}

/// What a protocol assumes about how nodes fail.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NodeFaults {
    /// A node may stop and never come back.
    CrashStop,
    /// A node may stop and restart later; what it persisted (through the protocol's persist
    /// barrier) survives, its memory does not, and a persist torn by the crash never
    /// happened.
    CrashRecovery,
    /// Up to `f` nodes may behave arbitrarily (lie, equivocate, stay silent); the others
    /// may also crash and recover with stable storage when `recovery` is true.
    Byzantine {
        /// The most Byzantine nodes the protocol tolerates.
        f: u32,
        /// Whether honest nodes may also crash and restart from stable storage.
        recovery: bool,
    },
}

/// What a protocol assumes about clocks.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClockModel {
    /// Bound on every monotonic clock's rate error ρ, in ppm: for true duration Δt a node
    /// measures between (1-ρ)Δt and (1+ρ)Δt.
    pub max_drift_ppm: u32,
    /// The largest step a wall clock may take at once (an NTP step, an operator), either way;
    /// `None` when the protocol assumes wall clocks are never stepped.
    pub max_wall_step: Option<Duration>,
    /// The largest offset between a correct node's wall clock and true time; a node whose
    /// clock is further off is not correct. `None` when the protocol assumes no bound.
    pub max_offset: Option<Duration>,
}

/// What a protocol assumes about the network between nodes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkModel {
    /// Messages may be lost.
    pub loss: bool,
    /// Messages may be delivered more than once.
    pub duplication: bool,
    /// Messages may overtake each other.
    pub reordering: bool,
    /// Links may be cut for a while, in any shape (one-way included).
    pub partitions: bool,
}

impl ClockModel {
    /// For protocols that time everything on monotonic clocks and never trust a wall
    /// clock: rates within `max_drift_ppm`, wall clocks stepped by up to an hour either way.
    pub const fn monotonic(max_drift_ppm: u32) -> ClockModel {
        ClockModel { max_drift_ppm, max_wall_step: Some(Duration::from_secs(3600)), max_offset: None }
    }
}

impl NetworkModel {
    /// Everything an asynchronous packet network does: loss, duplication, reordering and
    /// partitions.
    pub const UNRELIABLE: NetworkModel =
        NetworkModel { loss: true, duplication: true, reordering: true, partitions: true };
    /// Reliable links: every message arrives once (possibly late), nothing is cut.
    pub const RELIABLE: NetworkModel =
        NetworkModel { loss: false, duplication: false, reordering: true, partitions: false };
}

/// A system model: the assumptions a protocol's guarantees rest on.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SystemModel {
    /// Timing assumptions.
    pub timing: Timing,
    /// Node failures.
    pub nodes: NodeFaults,
    /// Clock assumptions.
    pub clocks: ClockModel,
    /// Network assumptions.
    pub network: NetworkModel,
    /// The most honest nodes that may be down (crashed or paused) at the same time, where
    /// the protocol's guarantees count those against a fault budget; `None` for no limit
    /// (safety never depends on it and liveness is only promised after GST).
    pub max_down: Option<u32>,
}

impl SystemModel {
    /// True when nodes may crash and come back from stable storage.
    pub fn admits_restarts(&self) -> bool {
        matches!(self.nodes, NodeFaults::CrashRecovery | NodeFaults::Byzantine { recovery: true, .. })
    }

    /// True when nodes may crash at all (for good or to restart).
    pub fn admits_crashes(&self) -> bool {
        !matches!(self.nodes, NodeFaults::Byzantine { recovery: false, .. })
    }

    /// The longest process pause the model admits: unbounded outside a synchronous model.
    pub fn max_pause(&self) -> Option<Duration> {
        match self.timing {
            Timing::Synchronous { max_pause, .. } => Some(max_pause),
            _ => None,
        }
    }

    /// True when partitions are admitted: the network model allows them and timing is not
    /// synchronous (a cut link breaks any delay bound).
    pub fn admits_partitions(&self) -> bool {
        self.network.partitions && !matches!(self.timing, Timing::Synchronous { .. })
    }

    /// The Byzantine fault budget `f`, zero for crash models.
    pub fn byzantine_budget(&self) -> u32 {
        match self.nodes {
            NodeFaults::Byzantine { f, .. } => f,
            _ => 0,
        }
    }

    /// True when a wall clock `offset_ns` away from true time is within the model (a node
    /// whose clock is further off is faulty, not correct).
    pub fn clock_within_model(&self, offset_ns: i64) -> bool {
        self.clocks.max_offset.is_none_or(|m| u128::from(offset_ns.unsigned_abs()) <= m.as_nanos())
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timing::Synchronous { max_delay, max_pause } => {
                write!(f, "synchronous (delay <= {max_delay:?}, pauses <= {max_pause:?})")
            }
            Timing::PartiallySynchronous => f.write_str("partially synchronous (bounds hold after GST)"),
            Timing::Asynchronous => f.write_str("asynchronous (no bounds)"),
        }
    }
}

impl fmt::Display for NodeFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeFaults::CrashStop => f.write_str("crash-stop"),
            NodeFaults::CrashRecovery => f.write_str("crash-recovery with stable storage"),
            NodeFaults::Byzantine { f: budget, recovery: true } => {
                write!(f, "Byzantine, f = {budget}; honest nodes crash-recover with stable storage")
            }
            NodeFaults::Byzantine { f: budget, recovery: false } => {
                write!(f, "Byzantine, f = {budget}; honest nodes do not crash")
            }
        }
    }
}

impl fmt::Display for SystemModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "timing:  {}", self.timing)?;
        write!(f, "nodes:   {}", self.nodes)?;
        match self.max_down {
            Some(d) => writeln!(f, "; at most {d} honest node(s) down at once")?,
            None => writeln!(f)?,
        }
        let c = &self.clocks;
        write!(f, "clocks:  drift <= {} ppm", c.max_drift_ppm)?;
        match c.max_wall_step {
            Some(s) => write!(f, "; wall-clock steps up to {s:?}")?,
            None => write!(f, "; wall clocks never stepped")?,
        }
        match c.max_offset {
            Some(o) => writeln!(f, "; a correct clock is within {o:?} of true time")?,
            None => writeln!(f)?,
        }
        let n = &self.network;
        let mut admits = Vec::new();
        for (on, what) in [
            (n.loss, "loss"),
            (n.duplication, "duplication"),
            (n.reordering, "reordering"),
            (n.partitions, "partitions"),
        ] {
            if on {
                admits.push(what);
            }
        }
        if admits.is_empty() {
            write!(f, "network: reliable FIFO links")
        } else {
            write!(f, "network: {}", admits.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(timing: Timing, nodes: NodeFaults) -> SystemModel {
        SystemModel {
            timing,
            nodes,
            clocks: ClockModel { max_drift_ppm: 200, max_wall_step: None, max_offset: None },
            network: NetworkModel::UNRELIABLE,
            max_down: None,
        }
    }

    #[test]
    fn synchronous_models_bound_pauses_and_exclude_partitions() {
        let sync = Timing::Synchronous {
            max_delay: Duration::from_millis(10),
            max_pause: Duration::from_millis(50),
        };
        let m = model(sync, NodeFaults::CrashStop);
        assert_eq!(m.max_pause(), Some(Duration::from_millis(50)));
        assert!(!m.admits_partitions());
        assert!(!m.admits_restarts() && m.admits_crashes());
        let m = model(Timing::PartiallySynchronous, NodeFaults::CrashRecovery);
        assert_eq!(m.max_pause(), None);
        assert!(m.admits_partitions() && m.admits_restarts());
    }

    #[test]
    fn byzantine_models_carry_their_budget() {
        let m = model(Timing::Asynchronous, NodeFaults::Byzantine { f: 1, recovery: false });
        assert_eq!(m.byzantine_budget(), 1);
        assert!(!m.admits_crashes());
        assert!(
            model(Timing::Asynchronous, NodeFaults::Byzantine { f: 1, recovery: true }).admits_restarts()
        );
    }

    #[test]
    fn a_clock_beyond_the_offset_bound_is_outside_the_model() {
        let mut m = model(Timing::PartiallySynchronous, NodeFaults::CrashRecovery);
        assert!(m.clock_within_model(i64::MIN), "no bound: every clock is within the model");
        m.clocks.max_offset = Some(Duration::from_millis(500));
        assert!(m.clock_within_model(-500_000_000));
        assert!(!m.clock_within_model(500_000_001));
        assert!(!m.clock_within_model(i64::MIN));
    }

    #[test]
    fn display_names_every_assumption() {
        let mut m = model(Timing::PartiallySynchronous, NodeFaults::Byzantine { f: 1, recovery: true });
        m.clocks.max_wall_step = Some(Duration::from_secs(2));
        m.max_down = Some(1);
        let text = m.to_string();
        for part in
            ["partially synchronous", "f = 1", "at most 1 honest", "200 ppm", "steps up to 2s", "partitions"]
        {
            assert!(text.contains(part), "{part} missing from {text}");
        }
    }
}
