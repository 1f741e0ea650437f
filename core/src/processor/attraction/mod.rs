//! The attribute-action engine shared by the `resource` and `attributes`
//! processors (upstream `internal/coreinternal/attraction`): `insert`, `update`,
//! `upsert`, `delete`, `hash`, `extract` and `convert` over one attribute map.
//! [`config`] parses and validates the YAML of an action list, [`engine`] runs
//! the compiled list.
//!
//! Upstream: <https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/processor/attributesprocessor>.

pub mod config;
pub mod engine;

pub use config::{compile, ActionConfig};
pub use engine::Actions;

#[cfg(test)]
mod tests;
