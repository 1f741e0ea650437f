//! Processors: transformations between receivers and exporters.

pub mod batch;
pub mod filter;
pub mod memory_limiter;
