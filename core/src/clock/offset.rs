//! Estimating another clock's offset from request/response timestamps.

use std::time::Duration;

/// An offset estimate: the remote clock minus ours, ± an error bound.
#[derive(Copy, Clone, Debug, Hash, PartialEq, Eq)]
pub struct OffsetEstimate {
    /// Remote minus local, in ns.
    pub offset_ns: i64,
    /// The true offset is within `offset_ns ± error`.
    pub error: Duration,
}

impl OffsetEstimate {
    /// The interval `[offset - error, offset + error]` (for Marzullo).
    pub fn interval(&self) -> (i64, i64) {
        let e = i64::try_from(self.error.as_nanos()).unwrap_or(i64::MAX);
        (self.offset_ns.saturating_sub(e), self.offset_ns.saturating_add(e))
    }
}

/// Cristian's method: we sent at local wall time `sent`, the server answered with its time
/// `server`, and the answer arrived at local wall time `received`. The server read its clock
/// somewhere in the round trip, so our clock at that moment is `received - rtt/2`, give or
/// take `rtt/2 - min_delay`.
pub fn cristian(sent: i64, server: i64, received: i64, min_delay: Duration) -> OffsetEstimate {
    let rtt = received.saturating_sub(sent).max(0);
    let half = rtt / 2;
    let floor = i64::try_from(min_delay.as_nanos()).unwrap_or(i64::MAX);
    OffsetEstimate {
        offset_ns: server.saturating_sub(received.saturating_sub(half)),
        error: Duration::from_nanos((half - floor).max(0) as u64),
    }
}

/// NTP's four timestamps: T1 client send, T2 server receive, T3 server send, T4 client
/// receive. `θ = ((T2 - T1) + (T3 - T4)) / 2`, `δ = (T4 - T1) - (T3 - T2)`; the error is δ/2.
pub fn ntp(t1: i64, t2: i64, t3: i64, t4: i64) -> OffsetEstimate {
    let theta = (i128::from(t2) - i128::from(t1) + i128::from(t3) - i128::from(t4)) / 2;
    let delta = ((i128::from(t4) - i128::from(t1)) - (i128::from(t3) - i128::from(t2))).max(0);
    OffsetEstimate {
        offset_ns: i64::try_from(theta).unwrap_or(if theta < 0 { i64::MIN } else { i64::MAX }),
        error: Duration::from_nanos(u64::try_from(delta / 2).unwrap_or(u64::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_four_timestamps() {
        // Server 1000 ahead; 10 each way; 5 of server processing.
        let e = ntp(0, 1_010, 1_015, 25);
        assert_eq!(e, OffsetEstimate { offset_ns: 1_000, error: Duration::from_nanos(10) });
        // Asymmetric delay biases θ by half the asymmetry, within the error bound.
        let e = ntp(0, 1_030, 1_035, 45); // 30 there, 10 back
        assert_eq!(e.offset_ns, 1_010);
        assert!((e.offset_ns - 1_000).unsigned_abs() <= e.error.as_nanos() as u64);
    }

    #[test]
    fn cristian_takes_half_the_round_trip() {
        let e = cristian(100, 5_060, 200, Duration::ZERO);
        assert_eq!(e, OffsetEstimate { offset_ns: 4_910, error: Duration::from_nanos(50) });
        assert_eq!(cristian(100, 5_060, 200, Duration::from_nanos(20)).error, Duration::from_nanos(30));
        assert_eq!(e.interval(), (4_860, 4_960));
    }
}
