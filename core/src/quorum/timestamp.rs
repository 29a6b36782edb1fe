//! Write timestamps shared by the crash-fault (ABD) and Byzantine registers.

use crate::node::NodeId;
use serde::{Deserialize, Serialize};

/// A write timestamp: a counter, then the writer's id, so no two writers collide.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ts {
    /// The counter.
    pub counter: u64,
    /// The writer.
    pub writer: NodeId,
}
