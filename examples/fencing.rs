//! DDIA's figure 8-4, told by the simulator: a client holding a lease checks it, pauses
//! (a long GC) past the lease's end, another client takes the lease and writes, and the
//! first client wakes up and writes with its old token. With fencing the storage rejects
//! the stale write; without, it silently accepts it.
//!
//! `cargo run --example fencing`

use palisade::core::lease::{LeaseCommand, LeaseEvent, SingleGrantorLockService};
use palisade::scenarios::lease::{CLIENTS, WRITE_AFTER, config, drifts, writes};
use palisade::sim::{Fault, Latency, LinkConfig, Network, SimConfig, Simulation};
use std::time::Duration;

fn story(fencing: bool) {
    println!("--- storage {} fencing tokens ---", if fencing { "checks" } else { "ignores" });
    let mut cfg = SimConfig::new(7, 5);
    cfg.network = Network::uniform(LinkConfig::with_latency(Latency::uniform(
        Duration::from_millis(1),
        Duration::from_millis(20),
    )));
    cfg.drift_ppm = drifts(7, None);
    let mut sim = Simulation::<SingleGrantorLockService>::new(cfg, config(fencing));
    // The clients' application: every client wants the lease and keeps it until something
    // goes wrong; each asks to write every 100 ms, a write leaving 300 ms after its check.
    for c in CLIENTS {
        sim.command_at(c, Duration::ZERO, LeaseCommand::Acquire);
    }
    for (c, at, value) in writes(7, &CLIENTS, Duration::from_secs(15)) {
        sim.command_at(c, at, LeaseCommand::Write { value, after: WRITE_AFTER });
    }
    // Let a client get the lease and write for a while.
    sim.run_for(Duration::from_secs(3));
    let holder = CLIENTS
        .into_iter()
        .find(|&c| sim.world().node(c).and_then(|n| n.holds(sim.world().clock(c)?.mono)).is_some())
        .expect("someone holds the lease after 3 s");
    // It has just checked its lease and has writes on their way out... and pauses for 5 s,
    // more than twice the 2 s lease.
    sim.schedule(Fault::pause(holder, Duration::from_secs(3), Duration::from_secs(5)));
    sim.run_for(Duration::from_secs(12));
    // The moment someone else got the lease: writes from the old holder after it are stale.
    let deposed = sim
        .world()
        .history()
        .iter()
        .find(|o| matches!(o.event, LeaseEvent::Granted { holder: h, .. } if h != holder))
        .map(|o| o.at)
        .expect("the lease moved on");
    for o in sim.world().history() {
        let at = o.at.as_secs_f64();
        let line = match &o.event {
            LeaseEvent::Granted { holder, token } => {
                format!("grantor gives the lease to {holder} with {token:?}")
            }
            LeaseEvent::Acquired { token } => format!("{} holds the lease ({token:?})", o.node),
            LeaseEvent::Jeopardy { token } => format!("{} finds its lease ({token:?}) has lapsed", o.node),
            LeaseEvent::Expired { token } => format!("{} gives {token:?} up", o.node),
            LeaseEvent::Released { token } => format!("{} releases {token:?}", o.node),
            LeaseEvent::Rejected { from, token, seq, why } => {
                format!("storage REJECTS {from}'s write #{seq} under {token:?}: {why}")
            }
            LeaseEvent::Accepted { from, token, seq, value } if *from == holder && o.at > deposed => {
                format!(
                    "storage ACCEPTS {from}'s stale write #{seq} ({value:#x}) under {token:?}: the new \
                     holder's data is overwritten"
                )
            }
            LeaseEvent::Accepted { .. } => continue,
            other => format!("{} {other:?}", o.node),
        };
        println!("{at:>8.3}s  {line}");
    }
    println!("({holder} paused from 3.000 s to 8.000 s)\n");
}

fn main() {
    story(true);
    story(false);
}
