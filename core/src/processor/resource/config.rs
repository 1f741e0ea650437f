//! `processors: resource:` — the YAML and its pure validation.

use serde::Deserialize;

use crate::component::{ConfigIssue, Validate};
use crate::processor::attraction::{self, ActionConfig};

/// `processors: resource:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceConfig {
    /// Actions run in order on the attributes of every resource (required,
    /// at least one). Same keys as the `attributes` processor's `actions`.
    pub attributes: Vec<ActionConfig>,
}

impl ResourceConfig {
    /// The compiled actions (errors carry paths relative to this config).
    pub fn actions(&self) -> Result<attraction::Actions, Vec<ConfigIssue>> {
        if self.attributes.is_empty() {
            return Err(vec![ConfigIssue::new(
                "attributes",
                "at least one action is required",
            )]);
        }
        attraction::compile("attributes", &self.attributes)
    }
}

impl Validate for ResourceConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        self.actions().err().unwrap_or_default()
    }
}
