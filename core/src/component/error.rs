//! [`BuildError`]: a valid config that could not be built or started.

use std::fmt;

/// Failure to build or start a component from a valid config (bind, TLS files…).
#[derive(Debug, thiserror::Error)]
#[error("{component}: {message}")]
pub struct BuildError {
    pub component: String,
    pub message: String,
}

impl BuildError {
    pub fn new(component: impl fmt::Display, message: impl fmt::Display) -> Self {
        BuildError {
            component: component.to_string(),
            message: message.to_string(),
        }
    }
}
