//! palisade-sim: a deterministic discrete-event simulator for palisade protocols.
//!
//! The simulator runs every node's [`palisade_core::Protocol`] state machine in one thread
//! over simulated true time, and injects the partial failures of DDIA chapter 8:
//!
//! * network, per directed link ([`net`]): latency (constant, uniform, exponential,
//!   log-normal, Pareto), loss, duplication, reordering or FIFO, bandwidth with a bounded
//!   queue (congestion: growing delay, then tail drops), partitions of every Jepsen shape
//!   (isolate, halves, majorities ring, bridge, one-way), and network-wide degradation;
//! * clocks, per node ([`clock`]): monotonic drift in ppm, wall-clock offsets, steps and
//!   strobe, a fresh monotonic origin after each restart;
//! * processes ([`fault`]): pauses (timers fire late, the inbox waits), crash-stop, crash and
//!   restart from the last persisted state, torn writes;
//! * Byzantine nodes ([`byzantine`]): silent, selective delay, replay, equivocation, garbage
//!   bytes, or an [`Adversary`] of your own;
//! * a seeded random nemesis ([`nemesis`]) whose schedules shrink to a minimal failing one.
//!
//! [`check::Checker`]s run after every event (safety) or judge "within D after GST"
//! ([`WithinAfterGst`], liveness). The same seed gives the same run, event for event, and
//! [`RunReport::trace_hash`] identifies the run (a 64-bit hash of every event and payload).
//!
//! ```
//! use palisade_core::detector::{FixedTimeout, Heartbeat, HeartbeatConfig};
//! use palisade_core::NodeId;
//! use palisade_sim::{Fault, SimConfig, Simulation};
//! use std::time::Duration;
//!
//! let mut sim = Simulation::<Heartbeat<FixedTimeout>>::new(SimConfig::new(42, 3), HeartbeatConfig::default());
//! sim.schedule(Fault::crash(NodeId(3), Duration::from_secs(10)));
//! let report = sim.run_for(Duration::from_secs(30));
//! assert!(report.violation.is_none());
//! assert!(sim.world().node(NodeId(1)).unwrap().suspects(NodeId(3)));
//! ```

#[cfg(not(any(feature = "bincode", feature = "postcard")))]
compile_error!("choose a codec: enable the `bincode` feature (the default) or `postcard`");

pub mod byzantine;
pub mod check;
pub mod clock;
pub mod diagram;
pub mod disruption;
pub mod explore;
pub mod fault;
pub mod fuzz;
pub mod nemesis;
pub mod net;
pub mod queue;
mod sim;
pub mod trace;

pub use byzantine::{Action, Adversary, AdversaryCtx};
pub use check::{AtEnd, Checker, EachEvent, EveryOperationWithin, ProgressAfterGst, WithinAfterGst, World};
pub use disruption::Disruptions;
pub use fault::{Fault, FaultKind};
pub use nemesis::{Episode, NEMESIS_STREAM, NemesisConfig, NemesisKind, Schedule, shrink};
pub use net::{Latency, LinkConfig, MAX_LATENCY, Network, Partition};
pub use sim::{
    MAX_SELF_MESSAGES_AT_ONE_INSTANT, MAX_TIMEOUTS_AT_ONE_INSTANT, NO_PANIC, RunReport, SimConfig,
    Simulation, ViolationReport,
};
