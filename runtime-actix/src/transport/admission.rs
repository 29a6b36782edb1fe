//! Admission control before authentication: a connection that has not finished its
//! handshake holds a slot, globally and for its source address, and is closed at once when
//! either is full. Slots are released when the handshake ends, however it ends.

use super::Limits;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

/// The pending-handshake slots of one node (shared by its listener's tasks, on one thread).
#[derive(Debug)]
pub struct Admission {
    max: usize,
    max_per_ip: usize,
    pending: Cell<usize>,
    per_ip: RefCell<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Every pending slot is taken.
    #[error("{0} handshakes already pending")]
    Global(usize),
    /// Every pending slot of this source address is taken.
    #[error("{0} handshakes already pending from this address")]
    PerAddress(usize),
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    admission: Rc<Admission>,
    ip: IpAddr,
}

impl Admission {
    /// Slots as `limits` allow.
    pub fn new(limits: &Limits) -> Rc<Self> {
        Rc::new(Admission {
            max: limits.max_pending,
            max_per_ip: limits.max_pending_per_ip,
            pending: Cell::new(0),
            per_ip: RefCell::default(),
        })
    }

    /// A slot for a connection from `ip`, if one is free.
    pub fn admit(self: &Rc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        if self.pending.get() >= self.max {
            return Err(Refused::Global(self.pending.get()));
        }
        let mut per_ip = self.per_ip.borrow_mut();
        let n = per_ip.entry(ip).or_default();
        if *n >= self.max_per_ip {
            return Err(Refused::PerAddress(*n));
        }
        *n += 1;
        self.pending.set(self.pending.get() + 1);
        Ok(Slot { admission: self.clone(), ip })
    }

    /// Handshakes pending now.
    pub fn pending(&self) -> usize {
        self.pending.get()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let a = &self.admission;
        a.pending.set(a.pending.get().saturating_sub(1));
        let mut per_ip = a.per_ip.borrow_mut();
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip); // the map never holds more addresses than slots
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_globally_and_per_address_and_freed_on_drop() {
        let limits = Limits { max_pending: 3, max_pending_per_ip: 2, ..Limits::default() };
        let a = Admission::new(&limits);
        let (x, y, z): (IpAddr, IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        let x1 = a.admit(x).unwrap();
        let _x2 = a.admit(x).unwrap();
        assert_eq!(a.admit(x).unwrap_err(), Refused::PerAddress(2));
        let _y1 = a.admit(y).unwrap();
        assert_eq!(a.admit(z).unwrap_err(), Refused::Global(3));
        drop(x1);
        assert_eq!(a.pending(), 2);
        let _z1 = a.admit(z).unwrap();
        assert_eq!(a.admit(x).unwrap_err(), Refused::Global(3));
    }

    #[test]
    fn addresses_are_forgotten_when_their_last_slot_ends() {
        let a = Admission::new(&Limits::default());
        for i in 0..1000u32 {
            drop(a.admit(IpAddr::from(i.to_be_bytes())).unwrap());
        }
        assert!(a.per_ip.borrow().is_empty());
        assert_eq!(a.pending(), 0);
    }
}
