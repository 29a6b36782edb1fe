//! How the lock service's values name nodes, for the explorer's symmetry reduction. The
//! structs are destructured field by field, so a field added later does not compile until
//! it is looked at here.

use super::{LeaseConfig, LeaseDurable, LeaseEvent, LeaseMsg, LeaseReply, Role, SingleGrantorLockService};
use crate::rename::{Rename, Renaming};

impl Rename for SingleGrantorLockService {
    fn rename(&mut self, map: &Renaming) {
        let SingleGrantorLockService { id, config, role, durable, outbox } = self;
        id.rename(map);
        config.rename(map);
        role.rename(map);
        durable.rename(map);
        outbox.rename(map);
    }
}

impl Rename for LeaseConfig {
    fn rename(&mut self, map: &Renaming) {
        let LeaseConfig {
            grantor,
            resource,
            term: _,
            max_drift_ppm: _,
            granularity: _,
            renew_after: _,
            jeopardy_grace: _,
            request_timeout: _,
            hazards: _,
        } = self;
        grantor.rename(map);
        resource.rename(map);
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

// Messages carry tokens and request ids, never a node (the sender is the envelope's), and
// replies tokens and times.
crate::names_no_node!(LeaseMsg, LeaseReply);

impl Rename for LeaseDurable {
    fn rename(&mut self, _: &Renaming) {
        let LeaseDurable { issued: _, accepted: _, accepted_seq: _, value: _ } = self;
    }
}
