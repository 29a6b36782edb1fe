//! palisade: protocols that stay correct under partial failure.
//!
//! Write a protocol once as a pure state machine against [`core::protocol::Protocol`],
//! break it in the deterministic simulator ([`sim`]) with the faults of a real network and
//! real machines, then run the same code in production on actix ([`actix`]).
//!
//! This crate re-exports the three workspace crates and holds the scenarios that the
//! `palisade` command line, the hazard tour and the integration tests share.

pub use palisade_actix as actix;
pub use palisade_core as core;
pub use palisade_sim as sim;

/// `print!` that ends the process quietly when standard output's reader has gone.
#[cfg(feature = "cli")]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::exit::write(format_args!($($arg)*))
    };
}

/// `println!` that ends the process quietly when standard output's reader has gone.
#[cfg(feature = "cli")]
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => { out!("{}\n", format_args!($($arg)*)) };
}

/// `eprint!` that ignores a closed standard error instead of panicking.
#[cfg(feature = "cli")]
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::cli::exit::write_err(format_args!($($arg)*))
    };
}

/// `eprintln!` that ignores a closed standard error instead of panicking.
#[cfg(feature = "cli")]
macro_rules! errln {
    () => { err!("\n") };
    ($($arg:tt)*) => { err!("{}\n", format_args!($($arg)*)) };
}

#[cfg(feature = "cli")]
pub mod cli;
pub mod history;
pub mod node;
pub mod scenarios;
