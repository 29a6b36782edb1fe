//! Admission control before authentication: a connection that has not finished its
//! handshake holds a slot, globally and for its source address. When either is full, the
//! oldest pending connection (of that address, or of all) is closed to make room: an
//! attacker who holds slots with idle connections must keep replacing them faster than a
//! member completes a handshake, instead of holding them for the whole handshake deadline.
//! Slots are released when the handshake ends, however it ends.

use super::Limits;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::rc::Rc;
use tokio::task::AbortHandle;

/// The pending-handshake slots of one node (shared by its listener's tasks, on one thread).
#[derive(Debug)]
pub struct Admission {
    max: usize,
    max_per_ip: usize,
    next: Cell<u64>,
    /// Pending connections, oldest first: (slot id, source, the task to abort to evict it).
    pending: RefCell<VecDeque<(u64, IpAddr, Option<AbortHandle>)>>,
}

/// Why an older pending connection was closed to admit a new one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Evicted {
    /// Every pending slot was taken.
    #[error("oldest of {0} pending handshakes closed to admit a newer one")]
    Global(usize),
    /// Every pending slot of its source address was taken.
    #[error("oldest of {0} pending handshakes from this address closed to admit a newer one")]
    PerAddress(usize),
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    admission: Rc<Admission>,
    id: u64,
}

impl Admission {
    /// Slots as `limits` allow.
    pub fn new(limits: &Limits) -> Rc<Self> {
        Rc::new(Admission {
            max: limits.max_pending.max(1),
            max_per_ip: limits.max_pending_per_ip.max(1),
            next: Cell::new(0),
            pending: RefCell::default(),
        })
    }

    /// A slot for a connection from `ip`, closing the oldest pending connection of `ip` (or
    /// of all) if the caps are reached; says so when it did.
    pub fn admit(self: &Rc<Self>, ip: IpAddr) -> (Slot, Option<Evicted>) {
        let mut pending = self.pending.borrow_mut();
        let same = pending.iter().filter(|e| e.1 == ip).count();
        let victim = if same >= self.max_per_ip {
            pending.iter().position(|e| e.1 == ip).map(|i| (i, Evicted::PerAddress(same)))
        } else if pending.len() >= self.max {
            Some((0, Evicted::Global(pending.len())))
        } else {
            None
        };
        let evicted = victim.map(|(i, why)| {
            if let Some((_, _, Some(task))) = pending.remove(i) {
                task.abort(); // its slot is already gone from the queue
            }
            why
        });
        let id = self.next.get();
        self.next.set(id + 1);
        pending.push_back((id, ip, None));
        (Slot { admission: self.clone(), id }, evicted)
    }

    /// Handshakes pending now.
    pub fn pending(&self) -> usize {
        self.pending.borrow().len()
    }
}

impl Slot {
    /// This slot's id, to name it in [`Admission::owned_by`].
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Admission {
    /// Records the task running slot `id`'s handshake: evicting the slot aborts it.
    pub fn owned_by(&self, id: u64, task: AbortHandle) {
        if let Some(e) = self.pending.borrow_mut().iter_mut().find(|e| e.0 == id) {
            e.2 = Some(task);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.pending.borrow_mut().retain(|e| e.0 != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_pending_connection_makes_room_per_address_and_globally() {
        let limits = Limits { max_pending: 3, max_pending_per_ip: 2, ..Limits::default() };
        let a = Admission::new(&limits);
        let (x, y, z): (IpAddr, IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        let (x1, none) = a.admit(x);
        assert_eq!(none, None);
        let (x2, _) = a.admit(x);
        let (x3, why) = a.admit(x);
        assert_eq!(why, Some(Evicted::PerAddress(2)));
        assert_eq!(a.pending(), 2, "x1 made room for x3");
        let (_y1, _) = a.admit(y);
        let (_z1, why) = a.admit(z);
        assert_eq!(why, Some(Evicted::Global(3)), "x2, the oldest, made room");
        assert_eq!(a.pending(), 3);
        drop((x1, x2)); // evicted already: dropping them frees nothing more
        assert_eq!(a.pending(), 3);
        drop(x3);
        assert_eq!(a.pending(), 2);
    }

    #[test]
    fn an_evicted_slots_task_is_aborted() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        tokio::task::LocalSet::new().block_on(&rt, async {
            let a = Admission::new(&Limits { max_pending: 1, ..Limits::default() });
            let (slot, _) = a.admit("10.0.0.1".parse().unwrap());
            let id = slot.id();
            let task = tokio::task::spawn_local(async move {
                let _slot = slot;
                std::future::pending::<()>().await;
            });
            a.owned_by(id, task.abort_handle());
            let (_newer, why) = a.admit("10.0.0.2".parse().unwrap());
            assert_eq!(why, Some(Evicted::Global(1)));
            assert!(task.await.unwrap_err().is_cancelled());
            assert_eq!(a.pending(), 1, "only the newer connection is pending");
        });
    }
}
