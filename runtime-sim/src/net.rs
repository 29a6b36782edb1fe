//! The simulated network: per directed link latency and independent loss.

use palisade_core::{NodeId, Rng};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a message spends on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always exactly this long.
    Constant(Duration),
    /// Uniformly distributed in `[lo, hi)`.
    Uniform {
        /// Shortest delay.
        lo: Duration,
        /// Upper bound (exclusive).
        hi: Duration,
    },
}

impl Latency {
    /// Draws one delay.
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { lo, hi } => rng.duration_between(lo, hi),
        }
    }

    /// The largest delay this distribution can produce.
    pub fn max(&self) -> Duration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { lo, hi } => hi.max(lo),
        }
    }

    /// The smallest delay this distribution can produce.
    pub fn min(&self) -> Duration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { lo, hi } => lo.min(hi),
        }
    }
}

/// The behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way delay.
    pub latency: Latency,
    /// Probability that a message is lost, independently per message, in `[0, 1]`.
    pub loss: f64,
}

impl Default for LinkConfig {
    /// A LAN-like link: 1-5 ms, no loss.
    fn default() -> Self {
        LinkConfig {
            latency: Latency::Uniform {
                lo: Duration::from_millis(1),
                hi: Duration::from_millis(5),
            },
            loss: 0.0,
        }
    }
}

/// What the network decided for one message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Delivered after this delay.
    Deliver(Duration),
    /// Lost on the link.
    Lost,
}

/// Every directed link: a default plus per-link overrides.
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// Applies to every link without an override.
    pub default: LinkConfig,
    /// Per directed link `(from, to)`.
    pub links: BTreeMap<(NodeId, NodeId), LinkConfig>,
}

impl Network {
    /// Every link behaves like `link`.
    pub fn uniform(link: LinkConfig) -> Self {
        Network {
            default: link,
            links: BTreeMap::new(),
        }
    }

    /// The configuration of the directed link `from → to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        self.links.get(&(from, to)).unwrap_or(&self.default)
    }

    /// Decides the fate of one message on `from → to`.
    pub fn fate(&self, from: NodeId, to: NodeId, rng: &mut Rng) -> Fate {
        let link = self.link(from, to);
        if rng.chance(link.loss) {
            Fate::Lost
        } else {
            Fate::Deliver(link.latency.sample(rng))
        }
    }
}
