//! OTTL, the OpenTelemetry Transformation Language
//! (<https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/pkg/ottl>):
//! the subset `filter` and `transform` use. Pure: no I/O, no clocks.
//!
//! Text is lexed ([`lexer`]), parsed into a syntax tree ([`parser`]) and compiled
//! once ([`compile`]) against a signal and context into [`Condition`]s and
//! [`Statement`]s, which evaluate on an [`Item`] / edit an [`ItemMut`].

pub mod compile;
pub mod item;
pub mod lexer;
pub mod parser;
#[cfg(test)]
mod props;
pub mod value;

use serde::Deserialize;
use thiserror::Error;

pub use compile::{Condition, Env, Statement};
pub use item::{Context, Item, ItemMut, Point, Rec, RecMut};

/// A compile-time (config) error at a byte offset of the statement text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct OttlError {
    /// Byte offset in the statement.
    pub at: usize,
    pub message: String,
}

impl OttlError {
    pub fn new(at: usize, message: impl Into<String>) -> Self {
        OttlError {
            at,
            message: message.into(),
        }
    }

    /// The 1-based column (in characters) of the error in `src`.
    pub fn column(&self, src: &str) -> usize {
        src.get(..self.at).map_or(self.at, |s| s.chars().count()) + 1
    }

    /// "column N: message", for config issues.
    pub fn describe(&self, src: &str) -> String {
        format!("column {}: {} (in `{src}`)", self.column(src), self.message)
    }
}

/// An error while evaluating on data (handled by `error_mode`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// What a failing condition or statement does (upstream `error_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ErrorMode {
    /// Log (rate-limited) and go on; a failed condition is false.
    #[default]
    Ignore,
    /// Go on without logging.
    Silent,
    /// Fail the batch.
    Propagate,
}
