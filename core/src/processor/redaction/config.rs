//! `processors: redaction:` configuration (upstream keys) and its pure validation.

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{ConfigIssue, Validate};
use crate::processor::re2;

/// `processors: redaction:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// Keep every attribute key (turns `allowed_keys` off). Default false.
    pub allow_all_keys: bool,
    /// Attribute keys that may stay; every other key is deleted. Empty with
    /// `allow_all_keys: false` deletes every attribute (fails closed).
    pub allowed_keys: Vec<String>,
    /// Attribute keys always kept unchanged (never deleted, never masked).
    pub ignored_keys: Vec<String>,
    /// Regexes on keys: a matching key is kept unchanged, as in `ignored_keys`.
    pub ignored_key_patterns: Vec<String>,
    /// Regexes on keys: the whole value of a matching key is masked.
    pub blocked_key_patterns: Vec<String>,
    /// Regexes on values: every match inside a value is masked.
    pub blocked_values: Vec<String>,
    /// Regexes on values: a matching value is never masked.
    pub allowed_values: Vec<String>,
    /// How masked text is replaced: empty (default) writes `****`; `hmac-sha256`
    /// or `hmac-sha512` write the lowercase hex HMAC of the matched text with
    /// `hmac_key`. `md5`, `sha1` and `sha3` are refused (see the README).
    pub hash_function: String,
    /// Secret key of the `hmac-*` hash functions (required by them).
    pub hmac_key: String,
    /// Diagnostic attributes written where something changed: `silent` (default,
    /// also empty), `info` (`redaction.*.count`) or `debug` (counts and key lists).
    pub summary: String,
    /// Also examine non-string values through their text form; a masked value
    /// becomes a string. Default false (only strings are examined).
    pub redact_all_types: bool,
    /// Upstream's URL span-name sanitiser: not supported yet (must be absent).
    pub url_sanitizer: Option<Value>,
    /// Upstream's database query sanitiser: not supported yet (must be absent).
    pub db_sanitizer: Option<Value>,
}

/// What replaces masked text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFunction {
    None,
    HmacSha256,
    HmacSha512,
}

/// Which diagnostic attributes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    Silent,
    Info,
    Debug,
}

impl RedactionConfig {
    /// The hash function, or the message explaining why it is refused.
    pub fn hash(&self) -> Result<HashFunction, String> {
        match self.hash_function.as_str() {
            "" => Ok(HashFunction::None),
            "hmac-sha256" => Ok(HashFunction::HmacSha256),
            "hmac-sha512" => Ok(HashFunction::HmacSha512),
            weak @ ("md5" | "sha1" | "sha3") => Err(format!(
                "hash_function {weak:?} is not supported by Tern: an unkeyed hash of a short \
                 secret (card number, e-mail) is reversible by guessing; use hmac-sha256 or \
                 hmac-sha512 with hmac_key, or leave it empty to mask with ****"
            )),
            other => Err(format!(
                "unknown hash_function {other:?}; expected hmac-sha256, hmac-sha512 or empty"
            )),
        }
    }

    /// The summary level, or the message for an unknown one.
    pub fn summary_level(&self) -> Result<Summary, String> {
        match self.summary.as_str() {
            "" | "silent" => Ok(Summary::Silent),
            "info" => Ok(Summary::Info),
            "debug" => Ok(Summary::Debug),
            other => Err(format!(
                "unknown summary {other:?}; expected debug, info or silent"
            )),
        }
    }
}

impl Validate for RedactionConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        for (key, list) in [
            ("ignored_key_patterns", &self.ignored_key_patterns),
            ("blocked_key_patterns", &self.blocked_key_patterns),
            ("blocked_values", &self.blocked_values),
            ("allowed_values", &self.allowed_values),
        ] {
            for (i, p) in list.iter().enumerate() {
                if let Err(e) = re2::compile(p) {
                    v.push(ConfigIssue::new(
                        format!("{key}::{i}"),
                        format!("invalid regex {p:?}: {e}"),
                    ));
                }
            }
        }
        match self.hash() {
            Err(e) => v.push(ConfigIssue::new("hash_function", e)),
            Ok(HashFunction::HmacSha256 | HashFunction::HmacSha512) if self.hmac_key.is_empty() => {
                v.push(ConfigIssue::new(
                    "hmac_key",
                    format!(
                        "hmac_key must be set for hash_function {}",
                        self.hash_function
                    ),
                ))
            }
            Ok(_) => {}
        }
        if let Err(e) = self.summary_level() {
            v.push(ConfigIssue::new("summary", e));
        }
        for (key, set) in [
            ("url_sanitizer", &self.url_sanitizer),
            ("db_sanitizer", &self.db_sanitizer),
        ] {
            if set.as_ref().is_some_and(|s| !s.is_null()) {
                v.push(ConfigIssue::new(key, format!("{key} is not supported yet")));
            }
        }
        v
    }
}
