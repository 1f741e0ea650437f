//! The redaction engine: compiled once from the config, applied to attribute maps
//! and log bodies. Pure: no I/O, no clocks.

use std::borrow::Cow;
use std::collections::HashSet;

use hmac::{KeyInit, Mac};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use regex::{Regex, RegexSet};

use super::config::{HashFunction, RedactionConfig, Summary};
use crate::otlp::attrs::{as_string_opt as as_string, get, put_value as put};
use crate::processor::re2;

const SEPARATOR: &str = ",";

/// Summary attribute names of one target (attributes or log body).
struct SummaryKeys {
    redacted_keys: &'static str,
    redacted_count: &'static str,
    masked_keys: &'static str,
    masked_count: &'static str,
    allowed_keys: &'static str,
    allowed_count: &'static str,
    ignored_count: &'static str,
}

const ATTRIBUTE_SUMMARY: SummaryKeys = SummaryKeys {
    redacted_keys: "redaction.redacted.keys",
    redacted_count: "redaction.redacted.count",
    masked_keys: "redaction.masked.keys",
    masked_count: "redaction.masked.count",
    allowed_keys: "redaction.allowed.keys",
    allowed_count: "redaction.allowed.count",
    ignored_count: "redaction.ignored.count",
};

const BODY_SUMMARY: SummaryKeys = SummaryKeys {
    redacted_keys: "redaction.body.redacted.keys",
    redacted_count: "redaction.body.redacted.count",
    masked_keys: "redaction.body.masked.keys",
    masked_count: "redaction.body.masked.count",
    allowed_keys: "redaction.body.allowed.keys",
    allowed_count: "redaction.body.allowed.count",
    ignored_count: "redaction.body.ignored.count",
};

/// Keys the processor writes: always allowed, so a second redaction processor
/// keeps (and adds to) what the first wrote.
const SUMMARY_KEYS: [&str; 14] = [
    ATTRIBUTE_SUMMARY.redacted_keys,
    ATTRIBUTE_SUMMARY.redacted_count,
    ATTRIBUTE_SUMMARY.masked_keys,
    ATTRIBUTE_SUMMARY.masked_count,
    ATTRIBUTE_SUMMARY.allowed_keys,
    ATTRIBUTE_SUMMARY.allowed_count,
    ATTRIBUTE_SUMMARY.ignored_count,
    BODY_SUMMARY.redacted_keys,
    BODY_SUMMARY.redacted_count,
    BODY_SUMMARY.masked_keys,
    BODY_SUMMARY.masked_count,
    BODY_SUMMARY.allowed_keys,
    BODY_SUMMARY.allowed_count,
    BODY_SUMMARY.ignored_count,
];

/// How masked text is replaced.
enum Mask {
    Stars,
    HmacSha256(Vec<u8>),
    HmacSha512(Vec<u8>),
}

/// Why the engine could not be built (only from a config that skipped validation).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RedactorError(String);

/// A compiled `redaction` config.
pub struct Redactor {
    allow_all_keys: bool,
    allowed_keys: HashSet<String>,
    ignored_keys: HashSet<String>,
    ignored_key_patterns: Option<RegexSet>,
    blocked_key_patterns: Option<RegexSet>,
    allowed_values: Option<RegexSet>,
    /// Prefilter: a value no blocked pattern matches costs one pass.
    blocked_set: Option<RegexSet>,
    blocked_values: Vec<Regex>,
    whole_value: Regex,
    mask: Mask,
    summary: Summary,
    redact_all_types: bool,
}

/// Keys touched in one attribute map or body.
#[derive(Default)]
struct Tally {
    redacted: Vec<String>,
    masked: Vec<String>,
    allowed: Vec<String>,
    ignored: Vec<String>,
}

fn set(patterns: &[String]) -> Result<Option<RegexSet>, RedactorError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let rewritten: Vec<String> = patterns.iter().map(|p| re2::translate(p)).collect();
    RegexSet::new(rewritten)
        .map(Some)
        .map_err(|e| RedactorError(e.to_string()))
}

fn matches(set: &Option<RegexSet>, text: &str) -> bool {
    set.as_ref().is_some_and(|s| s.is_match(text))
}

impl Redactor {
    pub fn new(cfg: &RedactionConfig) -> Result<Self, RedactorError> {
        let key = cfg.hmac_key.as_bytes().to_vec();
        let mask = match cfg.hash().map_err(RedactorError)? {
            HashFunction::None => Mask::Stars,
            HashFunction::HmacSha256 => Mask::HmacSha256(key),
            HashFunction::HmacSha512 => Mask::HmacSha512(key),
        };
        let blocked_values = cfg
            .blocked_values
            .iter()
            .map(|p| re2::compile(p).map_err(RedactorError))
            .collect::<Result<Vec<_>, _>>()?;
        let mut allowed_keys: HashSet<String> = cfg.allowed_keys.iter().cloned().collect();
        allowed_keys.extend(SUMMARY_KEYS.iter().map(|k| k.to_string()));
        Ok(Redactor {
            allow_all_keys: cfg.allow_all_keys,
            allowed_keys,
            ignored_keys: cfg.ignored_keys.iter().cloned().collect(),
            ignored_key_patterns: set(&cfg.ignored_key_patterns)?,
            blocked_key_patterns: set(&cfg.blocked_key_patterns)?,
            allowed_values: set(&cfg.allowed_values)?,
            blocked_set: set(&cfg.blocked_values)?,
            blocked_values,
            whole_value: Regex::new(".*").map_err(|e| RedactorError(e.to_string()))?,
            mask,
            summary: cfg.summary_level().map_err(RedactorError)?,
            redact_all_types: cfg.redact_all_types,
        })
    }

    fn ignore_key(&self, k: &str) -> bool {
        self.ignored_keys.contains(k) || matches(&self.ignored_key_patterns, k)
    }

    fn redact_key(&self, k: &str) -> bool {
        !self.allow_all_keys && !self.allowed_keys.contains(k)
    }

    fn mask_key(&self, k: &str) -> bool {
        matches(&self.blocked_key_patterns, k)
    }

    fn allow_value(&self, text: &str) -> bool {
        matches(&self.allowed_values, text)
    }

    /// The text of an attribute value that the value rules look at: strings, and
    /// with `redact_all_types` every type's text form; otherwise `""`.
    fn attribute_text<'a>(&self, v: Option<&'a AnyValue>) -> Cow<'a, str> {
        match v.and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => Cow::Borrowed(s),
            _ if self.redact_all_types => Cow::Owned(as_string(v)),
            _ => Cow::Borrowed(""),
        }
    }

    fn replacement(&self, matched: &str) -> String {
        match &self.mask {
            Mask::Stars => "****".to_owned(),
            Mask::HmacSha256(key) => hmac_hex::<hmac::Hmac<sha2::Sha256>>(key, matched),
            Mask::HmacSha512(key) => hmac_hex::<hmac::Hmac<sha2::Sha512>>(key, matched),
        }
    }

    /// Every match of `re` in `text` replaced.
    fn mask_with(&self, text: &str, re: &Regex) -> String {
        re.replace_all(text, |c: &regex::Captures<'_>| self.replacement(&c[0]))
            .into_owned()
    }

    /// `text` with every blocked-value match masked, or `None` when unchanged.
    fn mask_blocked(&self, text: &str) -> Option<String> {
        if !matches(&self.blocked_set, text) {
            return None;
        }
        let mut out = Cow::Borrowed(text);
        for re in &self.blocked_values {
            if re.is_match(&out) {
                out = Cow::Owned(self.mask_with(&out, re));
            }
        }
        (out != text).then(|| out.into_owned())
    }

    // ------------------------------------------------------------ attributes

    /// Whether [`Redactor::attributes`] would change `attrs` (read-only; may say
    /// yes for a blocked match whose replacement equals the original).
    pub fn attributes_need_change(&self, attrs: &[KeyValue]) -> bool {
        let summarise = self.summary != Summary::Silent;
        attrs.iter().any(|kv| {
            if self.ignore_key(&kv.key) {
                return summarise;
            }
            if self.redact_key(&kv.key) {
                return true;
            }
            let text = self.attribute_text(kv.value.as_ref());
            if self.allow_value(&text) {
                return summarise;
            }
            self.mask_key(&kv.key) || matches(&self.blocked_set, &text)
        })
    }

    /// Applies the rules to one attribute map and writes its summary.
    pub fn attributes(&self, attrs: &mut Vec<KeyValue>) {
        let mut t = Tally::default();
        for kv in attrs.iter_mut() {
            if self.ignore_key(&kv.key) {
                t.ignored.push(kv.key.clone());
                continue;
            }
            if self.redact_key(&kv.key) {
                t.redacted.push(kv.key.clone());
                continue;
            }
            let masked = {
                let text = self.attribute_text(kv.value.as_ref());
                if self.allow_value(&text) {
                    t.allowed.push(kv.key.clone());
                    continue;
                }
                if self.mask_key(&kv.key) {
                    Some(self.mask_with(&text, &self.whole_value))
                } else {
                    self.mask_blocked(&text)
                }
            };
            if let Some(m) = masked {
                t.masked.push(kv.key.clone());
                kv.value = Some(AnyValue {
                    value: Some(Value::StringValue(m)),
                });
            }
        }
        if !t.redacted.is_empty() {
            attrs.retain(|kv| self.ignore_key(&kv.key) || !self.redact_key(&kv.key));
        }
        self.summarise(t, attrs, &ATTRIBUTE_SUMMARY);
    }

    fn summarise(&self, t: Tally, attrs: &mut Vec<KeyValue>, keys: &SummaryKeys) {
        if self.summary == Summary::Silent {
            return;
        }
        self.add_summary(
            t.redacted,
            attrs,
            Some(keys.redacted_keys),
            keys.redacted_count,
        );
        self.add_summary(t.masked, attrs, Some(keys.masked_keys), keys.masked_count);
        self.add_summary(
            t.allowed,
            attrs,
            Some(keys.allowed_keys),
            keys.allowed_count,
        );
        self.add_summary(t.ignored, attrs, None, keys.ignored_count);
    }

    /// Writes a key list (debug) and a count (info, debug), merged with what an
    /// earlier redaction processor wrote.
    fn add_summary(
        &self,
        mut names: Vec<String>,
        attrs: &mut Vec<KeyValue>,
        list_key: Option<&str>,
        count_key: &str,
    ) {
        if names.is_empty() {
            return;
        }
        let mut count = names.len() as i64;
        if let (Summary::Debug, Some(list_key)) = (self.summary, list_key) {
            if let Some(Value::StringValue(prev)) =
                get(attrs, list_key).and_then(|v| v.value.as_ref())
            {
                if !prev.is_empty() {
                    names.extend(prev.split(SEPARATOR).map(str::to_owned));
                }
            }
            names.sort();
            put(attrs, list_key, Value::StringValue(names.join(SEPARATOR)));
        }
        if let Some(Value::IntValue(prev)) = get(attrs, count_key).and_then(|v| v.value.as_ref()) {
            count = count.saturating_add(*prev);
        }
        put(attrs, count_key, Value::IntValue(count));
    }

    // ------------------------------------------------------------ log bodies

    /// Whether [`Redactor::log_body`] would change the body or add a summary.
    pub fn log_body_needs_change(&self, body: Option<&AnyValue>) -> bool {
        match body.and_then(|b| b.value.as_ref()) {
            Some(Value::KvlistValue(_) | Value::ArrayValue(_)) => {
                self.body_part_needs_change(body, true)
            }
            _ => {
                let text = as_string(body);
                !self.allow_value(&text) && matches(&self.blocked_set, &text)
            }
        }
    }

    fn body_part_needs_change(&self, v: Option<&AnyValue>, top: bool) -> bool {
        let summarise = self.summary != Summary::Silent;
        match v.and_then(|v| v.value.as_ref()) {
            Some(Value::KvlistValue(kvl)) => kvl.values.iter().any(|kv| {
                if self.ignore_key(&kv.key) {
                    return summarise;
                }
                self.redact_key(&kv.key)
                    || self.mask_key(&kv.key)
                    || self.body_part_needs_change(kv.value.as_ref(), false)
            }),
            Some(Value::ArrayValue(a)) => a
                .values
                .iter()
                .any(|e| self.body_part_needs_change(Some(e), false)),
            _ => {
                let text = as_string(v);
                if self.allow_value(&text) {
                    return summarise && !top;
                }
                matches(&self.blocked_set, &text)
            }
        }
    }

    /// Applies the rules to a log body (maps and lists recursively, keys named by
    /// their path) and writes the `redaction.body.*` summary into `attrs`.
    pub fn log_body(&self, body: &mut Option<AnyValue>, attrs: &mut Vec<KeyValue>) {
        let mut t = Tally::default();
        let mut empty = AnyValue::default();
        let was_absent = body.is_none();
        let target = match body.as_mut() {
            Some(b) => b,
            None => &mut empty,
        };
        match &mut target.value {
            Some(Value::KvlistValue(kvl)) => self.body_map(None, &mut kvl.values, &mut t),
            Some(Value::ArrayValue(a)) => {
                for (i, e) in a.values.iter_mut().enumerate() {
                    self.body_value(format!("[{i}]"), e, &mut t);
                }
            }
            _ => {
                let text = as_string(Some(target));
                if self.allow_value(&text) {
                    // Upstream returns here without a summary; so does Tern.
                    return;
                }
                if let Some(m) = self.mask_blocked(&text) {
                    t.masked.push("body".to_owned());
                    target.value = Some(Value::StringValue(m));
                }
            }
        }
        if was_absent && empty.value.is_some() {
            *body = Some(empty);
        }
        self.summarise(t, attrs, &BODY_SUMMARY);
    }

    fn body_map(&self, parent: Option<&str>, entries: &mut Vec<KeyValue>, t: &mut Tally) {
        let path = |k: &str| match parent {
            Some(p) => format!("{p}.{k}"),
            None => k.to_owned(),
        };
        let mut removed = Vec::new();
        for kv in entries.iter_mut() {
            if self.ignore_key(&kv.key) {
                t.ignored.push(path(&kv.key));
                continue;
            }
            if self.redact_key(&kv.key) {
                removed.push(path(&kv.key));
                continue;
            }
            if self.mask_key(&kv.key) {
                t.masked.push(path(&kv.key));
                let text = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.as_str(),
                    _ => "",
                };
                let m = self.mask_with(text, &self.whole_value);
                kv.value = Some(AnyValue {
                    value: Some(Value::StringValue(m)),
                });
                continue;
            }
            match &mut kv.value {
                Some(v) => self.body_value(path(&kv.key), v, t),
                None => {
                    let mut v = AnyValue::default();
                    self.body_value(path(&kv.key), &mut v, t);
                    if v.value.is_some() {
                        kv.value = Some(v);
                    }
                }
            }
        }
        if !removed.is_empty() {
            entries.retain(|kv| self.ignore_key(&kv.key) || !self.redact_key(&kv.key));
            t.redacted.append(&mut removed);
        }
    }

    fn body_value(&self, key: String, v: &mut AnyValue, t: &mut Tally) {
        match &mut v.value {
            Some(Value::KvlistValue(kvl)) => self.body_map(Some(&key), &mut kvl.values, t),
            Some(Value::ArrayValue(a)) => {
                for (i, e) in a.values.iter_mut().enumerate() {
                    self.body_value(format!("{key}.[{i}]"), e, t);
                }
            }
            _ => {
                let text = as_string(Some(v));
                if self.allow_value(&text) {
                    t.allowed.push(key);
                    return;
                }
                if let Some(m) = self.mask_blocked(&text) {
                    t.masked.push(key);
                    v.value = Some(Value::StringValue(m));
                }
            }
        }
    }
}

fn hmac_hex<M: Mac + KeyInit>(key: &[u8], text: &str) -> String {
    // HMAC accepts keys of any length, so this never fails.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return "****".to_owned();
    };
    mac.update(text.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest.iter() {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
    }
    out
}
