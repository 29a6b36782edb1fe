//! Defences switched off on purpose, so that the simulator can show what each defends
//! against (the tour's hazard scenarios).
//!
//! A protocol's configuration carries a [`Hazards`]; outside this crate's own tests only
//! [`Hazards::NONE`] can be built unless the `hazard-switches` feature is on.
//! `palisade-actix` and `palisade-sim` do not enable it. The `palisade` crate does, because
//! its scenarios need it, so its library (`palisade::node::run`) and binary are built with
//! the switches (and Cargo unifies features, so does anything built together with it);
//! even there a switch is off unless code names it, and no configuration file can set one
//! (configurations skip the field when they are read or written). An application that
//! depends on palisade-core and palisade-actix alone cannot build one.

/// Which defences are off. The default, [`Hazards::NONE`], is every defence on.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hazards {
    unfenced: bool,
    quorum: Option<usize>,
    no_write_back: bool,
}

impl Hazards {
    /// Every defence on.
    pub const NONE: Hazards = Hazards { unfenced: false, quorum: None, no_write_back: false };

    /// Storage accepts every write whatever its token (DDIA example 8-5 without fencing).
    #[cfg(any(test, feature = "hazard-switches"))]
    pub const fn unfenced(self) -> Self {
        Hazards { unfenced: true, ..self }
    }

    /// The election's leaders need only `promises` promises, fewer than a majority, so two
    /// leaders can hold valid leases at once.
    #[cfg(any(test, feature = "hazard-switches"))]
    pub const fn quorum(self, promises: usize) -> Self {
        Hazards { quorum: Some(promises), ..self }
    }

    /// ABD reads return the highest pair of their first phase without writing it back: the
    /// textbook bug that breaks atomicity.
    #[cfg(any(test, feature = "hazard-switches"))]
    pub const fn no_write_back(self) -> Self {
        Hazards { no_write_back: true, ..self }
    }

    /// True when every defence is on.
    pub fn is_none(&self) -> bool {
        *self == Hazards::NONE
    }

    /// Whether storage checks fencing tokens.
    pub(crate) fn fencing(&self) -> bool {
        !self.unfenced
    }

    /// A promise count forced below a majority, if any.
    pub(crate) fn forced_quorum(&self) -> Option<usize> {
        self.quorum
    }

    /// Whether ABD reads write back.
    pub(crate) fn write_back(&self) -> bool {
        !self.no_write_back
    }
}
