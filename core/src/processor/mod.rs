//! Processors: transformations between receivers and exporters. Shared
//! machinery sits here at the root: [`attraction`] (attribute actions) and
//! [`re2`] (user regexes in the upstream dialect).

pub mod attraction;
pub mod attributes;
pub mod batch;
pub mod filter;
pub mod memory_limiter;
pub mod metricstransform;
pub mod re2;
pub mod redaction;
pub mod resource;
pub mod resourcedetection;
pub mod transform;
