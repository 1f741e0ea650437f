//! Shared pieces of the Tern benchmark tools (`loadgen`, `sink`).

pub mod gen;
pub mod procfs;
pub mod wire;
