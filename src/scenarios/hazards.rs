//! The hazard table of DDIA chapter 8 as scenario pairs: each hazard run without its
//! defence (the checker must find violations) and with it (it must find none). The tour
//! prints this table; the tests hold every row to it.

/// One hazard and the two scenarios that show it and its defence.
#[derive(Copy, Clone, Debug)]
pub struct Hazard {
    /// What goes wrong.
    pub hazard: &'static str,
    /// What palisade does about it.
    pub defence: &'static str,
    /// The scenario without the defence: violations expected.
    pub without: &'static str,
    /// The scenario with the defence: no violation allowed.
    pub with: &'static str,
    /// The checker the hazard breaks: the scenario without the defence must fail this one
    /// and no other (a different checker firing is a bug in the scenario), and the one with
    /// the defence must never fail it.
    pub checker: &'static str,
}

/// Every hazard, in the order of the README's tour table.
pub const HAZARDS: [Hazard; 11] = [
    Hazard {
        hazard: "lost, delayed, duplicated messages; partitions",
        defence: "retries + quorums that intersect (majority)",
        without: "register-small-quorums",
        with: "register",
        checker: "register::no_stale_read",
    },
    Hazard {
        hazard: "long-tailed network delay, bound unknown",
        defence: "phi accrual: timeouts adapt per link",
        without: "jitter-fixed",
        with: "jitter-phi",
        checker: "detector::never_suspects_live",
    },
    Hazard {
        hazard: "observer paused (GC)",
        defence: "observer-pause guard",
        without: "observer-pause-unguarded",
        with: "observer-pause-guarded",
        checker: "detector::never_suspects_live",
    },
    Hazard {
        hazard: "clock drift",
        defence: "lease expiry bounded for drift ρ",
        without: "drift-violation",
        with: "drift-bounded",
        checker: "lease::single_holder",
    },
    Hazard {
        hazard: "clock jump / skew between nodes",
        defence: "skew monitor fences the node",
        without: "skew-unmonitored",
        with: "skew",
        checker: "skew::writes_in_real_time_order",
    },
    Hazard {
        hazard: "last-write-wins losing writes",
        defence: "hybrid logical clocks",
        without: "lww",
        with: "lww-hlc",
        checker: "lww::no_causally_later_write_lost",
    },
    Hazard {
        hazard: "reading a clock without its uncertainty",
        defence: "interval clock + commit wait",
        without: "commit-wait-off",
        with: "commit-wait",
        checker: "txn::external_consistency",
    },
    Hazard {
        hazard: "paused lease holder writes after expiry",
        defence: "fencing tokens checked by the resource",
        without: "unfenced",
        with: "fencing",
        checker: "fencing::writes_follow_grant_order",
    },
    Hazard {
        hazard: "a node that thinks it is still leader",
        defence: "leases granted by a majority",
        without: "leader-minority",
        with: "leader",
        checker: "lease::single_holder",
    },
    Hazard {
        hazard: "Byzantine sender equivocating",
        defence: "Bracha broadcast, n ≥ 3f + 1",
        without: "bracha-crash-quorums",
        with: "bracha",
        checker: "bracha::agreement",
    },
    Hazard {
        hazard: "forged data from a lying server",
        defence: "values signed by their writer",
        without: "register-liar",
        with: "bft-register-signed",
        checker: "register::never_a_value_nobody_wrote",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_existing_scenarios_of_the_right_kind() {
        for h in HAZARDS {
            let without = super::super::find(h.without).unwrap_or_else(|| panic!("no {}", h.without));
            let with = super::super::find(h.with).unwrap_or_else(|| panic!("no {}", h.with));
            assert!(without.hazard, "{} should be marked as a hazard", h.without);
            assert!(!with.hazard, "{} should be marked as a defence", h.with);
        }
    }
}
