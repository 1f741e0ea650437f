//! Component and pipeline IDs: `type[/name]` and `signal[/name]`.

use std::fmt;

use crate::otlp::SignalKind;

/// A component ID: `type[/name]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    pub ty: String,
    pub name: Option<String>,
}

impl ComponentId {
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        let (ty, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let mut chars = ty.chars();
        let type_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
            && ty.len() <= 63
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !type_ok {
            return Err(format!(
                "invalid component type {ty:?}: must match ^[a-zA-Z][0-9a-zA-Z_]{{0,62}}$"
            ));
        }
        if let Some(n) = name {
            if n.is_empty() {
                return Err(format!(
                    "invalid component ID {s:?}: name after '/' must not be empty"
                ));
            }
            if n.len() > 1024 || n.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("invalid component name {n:?}: no spaces or control characters, at most 1024 characters"));
            }
        }
        Ok(ComponentId {
            ty: ty.to_string(),
            name: name.map(str::to_string),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.ty, n),
            None => f.write_str(&self.ty),
        }
    }
}

/// A pipeline ID: `signal[/name]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PipelineId {
    pub signal: SignalKind,
    pub name: Option<String>,
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}
