//! Processors: transformations between receivers and exporters.

pub mod batch;
