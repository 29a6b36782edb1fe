//! Real clocks, read once per input and handed to the protocol as a [`Now`].

use palisade_core::{Instant, Now, WallTime};
use std::time::{SystemTime, UNIX_EPOCH};

/// The node's monotonic clock (from `std::time::Instant`, origin at process start of the
/// node) and wall clock (`SystemTime`).
#[derive(Clone, Debug)]
pub struct RealClock {
    origin: std::time::Instant,
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl RealClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        RealClock { origin: std::time::Instant::now() }
    }

    /// Reads both clocks.
    pub fn now(&self) -> Now {
        let mono = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Now::new(Instant::from_nanos(mono), wall_now())
    }

    /// How long from now until the monotonic clock reads `deadline` (zero if it has passed).
    pub fn until(&self, deadline: Instant) -> std::time::Duration {
        deadline - self.now().mono
    }
}

/// The wall clock now. A clock set before 1970 reads as negative nanoseconds.
pub fn wall_now() -> WallTime {
    let nanos = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    };
    WallTime::from_unix_nanos(nanos)
}
