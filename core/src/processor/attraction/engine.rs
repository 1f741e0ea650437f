//! Compiled attribute actions and how they change one attribute map. Pure: no
//! I/O, no clocks; regexes are compiled once, when the config is parsed.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use regex::Regex;
use sha2::{Digest, Sha256};

use crate::otlp::attrs;

/// Where `insert`/`update`/`upsert` take their value from.
#[derive(Debug, Clone)]
pub enum Source {
    Value(AnyValue),
    /// Another attribute of the same map, or `default` when it is absent.
    Attribute {
        key: String,
        default: Option<AnyValue>,
    },
}

/// The keys `delete`/`hash` work on: `key`, then every key `pattern` matches.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: Option<String>,
    pub pattern: Option<Regex>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertTo {
    Int,
    Double,
    String,
}

/// One compiled action.
#[derive(Debug, Clone)]
pub enum Action {
    Insert {
        key: String,
        source: Source,
    },
    Update {
        key: String,
        source: Source,
    },
    Upsert {
        key: String,
        source: Source,
    },
    Delete(Target),
    Hash(Target),
    Extract {
        key: String,
        regex: Regex,
        /// The names of its capture groups, in order.
        names: Vec<String>,
    },
    Convert {
        key: String,
        to: ConvertTo,
    },
}

/// An ordered list of actions applied to one attribute map at a time.
#[derive(Debug, Clone, Default)]
pub struct Actions(Vec<Action>);

/// What an action would do to a map: set keys, or remove keys.
enum Effect {
    Set(Vec<(String, AnyValue)>),
    Remove(Vec<String>),
}

impl Actions {
    pub fn new(actions: Vec<Action>) -> Self {
        Actions(actions)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether [`Actions::apply`] would change `attrs`. Exact and read-only: the
    /// actions before the first one that changes something leave the map as it
    /// is, so that one is judged on the map it would really see.
    pub fn would_change(&self, attrs: &[KeyValue]) -> bool {
        self.0.iter().any(|a| changes(attrs, &a.effect(attrs)))
    }

    /// Runs every action, in order, on `attrs`.
    pub fn apply(&self, attrs: &mut Vec<KeyValue>) {
        for a in &self.0 {
            match a.effect(attrs) {
                Effect::Set(sets) => {
                    for (k, v) in sets {
                        attrs::put(attrs, &k, v);
                    }
                }
                Effect::Remove(keys) => {
                    for k in keys {
                        attrs::remove(attrs, &k);
                    }
                }
            }
        }
    }
}

fn changes(attrs: &[KeyValue], e: &Effect) -> bool {
    match e {
        Effect::Set(sets) => sets.iter().any(|(k, v)| attrs::get(attrs, k) != Some(v)),
        Effect::Remove(keys) => !keys.is_empty(),
    }
}

impl Action {
    fn effect(&self, attrs: &[KeyValue]) -> Effect {
        let set = |key: &str, v: Option<AnyValue>| {
            Effect::Set(v.map(|v| (key.to_string(), v)).into_iter().collect())
        };
        match self {
            Action::Insert { key, source } => match attrs::get(attrs, key) {
                Some(_) => Effect::Set(Vec::new()),
                None => set(key, source.resolve(attrs)),
            },
            Action::Update { key, source } => match attrs::get(attrs, key) {
                Some(_) => set(key, source.resolve(attrs)),
                None => Effect::Set(Vec::new()),
            },
            Action::Upsert { key, source } => set(key, source.resolve(attrs)),
            Action::Delete(t) => Effect::Remove(t.keys(attrs)),
            Action::Hash(t) => Effect::Set(
                t.keys(attrs)
                    .into_iter()
                    .filter_map(|k| attrs::get(attrs, &k).map(|v| (k, hash(v))))
                    .collect(),
            ),
            Action::Extract { key, regex, names } => {
                let source = match attrs::get(attrs, key) {
                    Some(AnyValue {
                        value: Some(Av::StringValue(s)),
                    }) => s,
                    _ => return Effect::Set(Vec::new()),
                };
                let Some(caps) = regex.captures(source) else {
                    return Effect::Set(Vec::new());
                };
                Effect::Set(
                    names
                        .iter()
                        .map(|n| {
                            let text = caps.name(n).map_or("", |m| m.as_str());
                            (n.clone(), attrs::string(text))
                        })
                        .collect(),
                )
            }
            Action::Convert { key, to } => {
                set(key, attrs::get(attrs, key).and_then(|v| convert(v, *to)))
            }
        }
    }
}

impl Source {
    fn resolve(&self, attrs: &[KeyValue]) -> Option<AnyValue> {
        match self {
            Source::Value(v) => Some(v.clone()),
            Source::Attribute { key, default } => {
                attrs::get(attrs, key).cloned().or_else(|| default.clone())
            }
        }
    }
}

impl Target {
    /// `key` when present, then every other key `pattern` matches (each once).
    fn keys(&self, attrs: &[KeyValue]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(k) = &self.key {
            if attrs::get(attrs, k).is_some() {
                out.push(k.clone());
            }
        }
        if let Some(re) = &self.pattern {
            for kv in attrs {
                if re.is_match(&kv.key) && !out.contains(&kv.key) {
                    out.push(kv.key.clone());
                }
            }
        }
        out
    }
}

/// The `hash` action: lowercase hex SHA-256 of the value's bytes (strings as
/// UTF-8, ints and doubles as 8 little-endian bytes, bools as one byte). As
/// upstream, an empty string, bytes, maps, lists and empty values become `""`.
fn hash(v: &AnyValue) -> AnyValue {
    let digest = match &v.value {
        Some(Av::StringValue(s)) if !s.is_empty() => Sha256::digest(s.as_bytes()),
        Some(Av::IntValue(i)) => Sha256::digest(i.to_le_bytes()),
        Some(Av::DoubleValue(d)) => Sha256::digest(d.to_bits().to_le_bytes()),
        Some(Av::BoolValue(b)) => Sha256::digest([u8::from(*b)]),
        _ => return attrs::string(""),
    };
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    attrs::string(hex)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The `convert` action; `None` leaves the value as it was.
fn convert(v: &AnyValue, to: ConvertTo) -> Option<AnyValue> {
    let out = match (to, &v.value) {
        (ConvertTo::String, _) => Av::StringValue(attrs::as_string(v)),
        // Saturates out of range; NaN gives 0.
        (ConvertTo::Int, Some(Av::DoubleValue(d))) => Av::IntValue(*d as i64),
        (ConvertTo::Int, Some(Av::BoolValue(b))) => Av::IntValue(i64::from(*b)),
        (ConvertTo::Int, Some(Av::StringValue(s))) => match s.parse::<i64>() {
            Ok(i) => Av::IntValue(i),
            Err(_) => {
                tracing::debug!(value = %s, "Attribute value is not an integer; left as it is.");
                return None;
            }
        },
        (ConvertTo::Double, Some(Av::IntValue(i))) => Av::DoubleValue(*i as f64),
        (ConvertTo::Double, Some(Av::BoolValue(b))) => Av::DoubleValue(f64::from(u8::from(*b))),
        (ConvertTo::Double, Some(Av::StringValue(s))) => match s.parse::<f64>() {
            Ok(d) => Av::DoubleValue(d),
            Err(_) => {
                tracing::debug!(value = %s, "Attribute value is not a number; left as it is.");
                return None;
            }
        },
        _ => return None,
    };
    Some(AnyValue { value: Some(out) })
}
