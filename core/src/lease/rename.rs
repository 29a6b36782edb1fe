//! How the lock service's values name nodes, for the explorer's symmetry reduction.

use super::{LeaseConfig, LeaseDurable, LeaseEvent, LeaseMsg, LeaseReply, Role, SingleGrantorLockService};
use crate::rename::{Rename, Renaming};

impl Rename for SingleGrantorLockService {
    fn rename(&mut self, map: &Renaming) {
        self.id.rename(map);
        self.config.rename(map);
        self.role.rename(map);
        self.durable.rename(map);
        self.outbox.rename(map);
    }
}

impl Rename for LeaseConfig {
    fn rename(&mut self, map: &Renaming) {
        self.grantor.rename(map);
        self.resource.rename(map);
    }
}

impl Rename for Role {
    fn rename(&mut self, map: &Renaming) {
        match self {
            Role::Grantor(g) => g.rename(map),
            Role::Resource(_) => {}
            Role::Holder(h) => h.rename(map),
        }
    }
}

impl Rename for LeaseEvent {
    fn rename(&mut self, map: &Renaming) {
        match self {
            LeaseEvent::Granted { holder, .. } => holder.rename(map),
            LeaseEvent::Accepted { from, .. } | LeaseEvent::Rejected { from, .. } => from.rename(map),
            LeaseEvent::Acquired { .. }
            | LeaseEvent::Jeopardy { .. }
            | LeaseEvent::Expired { .. }
            | LeaseEvent::Released { .. } => {}
        }
    }
}

/// Messages carry tokens and request ids, never a node: the sender is the envelope's.
impl Rename for LeaseMsg {
    fn rename(&mut self, _: &Renaming) {}
}

impl Rename for LeaseReply {
    fn rename(&mut self, _: &Renaming) {}
}

impl Rename for LeaseDurable {
    fn rename(&mut self, _: &Renaming) {}
}
