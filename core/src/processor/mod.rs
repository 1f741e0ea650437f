//! Processors: transformations between receivers and exporters.

pub mod batch;
pub mod memory_limiter;
pub mod resourcedetection;
