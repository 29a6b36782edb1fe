//! Subcommands of the `palisade` binary.

pub mod check_history;
pub mod cluster;
pub mod detector;
pub mod diagram;
pub mod exit;
pub mod explore;
pub mod keygen;
mod lease_app;
pub mod names;
pub mod node;
pub mod proxy;
pub mod sample;
pub mod shard;
pub mod sim;
pub mod sweep;
pub mod tour;
