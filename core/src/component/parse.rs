//! Parsing one component body: serde with unknown keys rejected at their path,
//! then the config's own pure validation.

use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use crate::config::issue::ConfigIssue;

/// Config structs validate themselves after deserialisation; paths are relative.
pub trait Validate {
    fn validate(&self) -> Vec<ConfigIssue> {
        Vec::new()
    }
}

/// Deserialises a component body (`null` means defaults), rejecting unknown keys
/// with their path, then validates. Paths are prefixed with `prefix`.
pub fn parse_config<T>(prefix: &str, raw: &Value) -> Result<T, Vec<ConfigIssue>>
where
    T: DeserializeOwned + Default + Validate,
{
    let cfg: T = if raw.is_null() {
        T::default()
    } else {
        serde_path_to_error::deserialize(raw.clone()).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}::{}", inner.replace('.', "::"))
            };
            vec![ConfigIssue::new(path, e.into_inner().to_string())]
        })?
    };
    let issues: Vec<ConfigIssue> = cfg
        .validate()
        .into_iter()
        .map(|i| i.under(prefix))
        .collect();
    if issues.is_empty() {
        Ok(cfg)
    } else {
        Err(issues)
    }
}
