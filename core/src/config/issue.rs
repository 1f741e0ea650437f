//! [`ConfigIssue`]: one validation problem with the YAML path of the offending key.

use std::fmt;

/// One validation problem, with the path of the offending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

impl ConfigIssue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigIssue {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same issue with `prefix` put in front of its (relative) path.
    pub fn under(self, prefix: &str) -> Self {
        let path = if self.path.is_empty() {
            prefix.to_string()
        } else if prefix.is_empty() {
            self.path
        } else {
            format!("{prefix}::{}", self.path)
        };
        ConfigIssue {
            path,
            message: self.message,
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}
