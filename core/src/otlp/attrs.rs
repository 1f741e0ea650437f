//! Attribute maps on the generated OTLP types (`Vec<KeyValue>`), read and
//! changed the way the upstream collector's pdata does, and values rendered as
//! strings as pdata's `Value.AsString` does. Pure: no I/O, no clocks.
//!
//! Duplicate keys can arrive on the wire: reads and updates use the first
//! match, removal removes every match, new keys are appended (insertion order is
//! kept). A value of `None` (pdata's `Empty`) counts as present.

use std::fmt::Write as _;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric};

/// The empty value (pdata `Empty`).
const EMPTY: AnyValue = AnyValue { value: None };

/// The value of the first attribute named `key` (`None` when absent).
pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_ref().unwrap_or(&EMPTY))
}

/// Sets the first attribute named `key` to `value`, or appends it.
pub fn put(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(value),
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }),
    }
}

/// Removes every attribute named `key`; true when one was there.
pub fn remove(attrs: &mut Vec<KeyValue>, key: &str) -> bool {
    let before = attrs.len();
    attrs.retain(|kv| kv.key != key);
    attrs.len() != before
}

/// A string value.
pub fn string(s: impl Into<String>) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(s.into())),
    }
}

/// The value as a string, as pdata `Value.AsString`: strings as they are,
/// bools `true`/`false`, ints in base 10, doubles in the shortest form
/// JavaScript would print, bytes in standard base64, maps and lists as JSON
/// (map keys sorted), empty as `""`.
pub fn as_string(v: &AnyValue) -> String {
    match &v.value {
        // A string-table index only means something in profiles: no text here.
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => double_string(*d),
        Some(Value::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(Value::ArrayValue(_) | Value::KvlistValue(_)) => {
            let mut out = String::new();
            write_json(&mut out, v);
            out
        }
    }
}

/// [`as_string`] of an optional value (`""` when absent).
pub fn as_string_opt(v: Option<&AnyValue>) -> String {
    v.map(as_string).unwrap_or_default()
}

/// [`put`] with a bare value.
pub fn put_value(attrs: &mut Vec<KeyValue>, key: &str, value: Value) {
    put(attrs, key, AnyValue { value: Some(value) });
}

/// A double as Go's JSON encoder (and so pdata) writes it: `'f'` format with the
/// shortest round-trip digits, `'e'` format below 1e-6 or from 1e21 on, with the
/// exponent written without padding (`1e-7`, `1e+21`). ±Inf and NaN render as
/// Go's encoding error, which upstream puts in the string (kept on purpose).
pub fn double_string(d: f64) -> String {
    if d.is_nan() {
        return "json: unsupported value: NaN".into();
    }
    if d.is_infinite() {
        let sign = if d > 0.0 { "+" } else { "-" };
        return format!("json: unsupported value: {sign}Inf");
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust writes `1e21` / `1e-7`; Go writes `1e+21` / `1e-07`, then its
        // JSON encoder strips the padding: `1e+21` / `1e-7`.
        let s = format!("{d:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else if d == 0.0 {
        // Go keeps the sign of negative zero.
        if d.is_sign_negative() { "-0" } else { "0" }.into()
    } else {
        format!("{d}")
    }
}

/// Writes `v` as Go's `encoding/json` would write its raw form.
fn write_json(out: &mut String, v: &AnyValue) {
    match &v.value {
        None | Some(Value::StringValueStrindex(_)) => out.push_str("null"),
        Some(Value::StringValue(s)) => write_json_string(out, s),
        Some(Value::BoolValue(b)) => {
            let _ = write!(out, "{b}");
        }
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) => out.push_str(&double_string(*d)),
        Some(Value::BytesValue(b)) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Some(Value::KvlistValue(kvs)) => {
            // Go maps: one entry per key (the last one wins), keys sorted.
            let mut entries: Vec<(&str, &AnyValue)> = Vec::with_capacity(kvs.values.len());
            for kv in &kvs.values {
                let value = kv.value.as_ref().unwrap_or(&EMPTY);
                match entries.iter_mut().find(|(k, _)| *k == kv.key) {
                    Some(e) => e.1 = value,
                    None => entries.push((kv.key.as_str(), value)),
                }
            }
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json(out, value);
            }
            out.push('}');
        }
    }
}

/// A JSON string with Go's escaping (HTML-safe: `<`, `>`, `&` as `\u00XX`).
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Calls `f` with the attributes of every data point of `metric`.
pub fn for_each_data_point(metric: &Metric, mut f: impl FnMut(&[KeyValue])) {
    match &metric.data {
        None => {}
        Some(metric::Data::Gauge(g)) => g.data_points.iter().for_each(|p| f(&p.attributes)),
        Some(metric::Data::Sum(s)) => s.data_points.iter().for_each(|p| f(&p.attributes)),
        Some(metric::Data::Histogram(h)) => h.data_points.iter().for_each(|p| f(&p.attributes)),
        Some(metric::Data::ExponentialHistogram(h)) => {
            h.data_points.iter().for_each(|p| f(&p.attributes))
        }
        Some(metric::Data::Summary(s)) => s.data_points.iter().for_each(|p| f(&p.attributes)),
    }
}

/// Calls `f` with the attributes of every data point of `metric`, mutably.
pub fn for_each_data_point_mut(metric: &mut Metric, mut f: impl FnMut(&mut Vec<KeyValue>)) {
    match &mut metric.data {
        None => {}
        Some(metric::Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::Histogram(h)) => {
            h.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            h.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
        Some(metric::Data::Summary(s)) => {
            s.data_points.iter_mut().for_each(|p| f(&mut p.attributes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn v(x: Value) -> AnyValue {
        AnyValue { value: Some(x) }
    }

    fn kv(k: &str, x: AnyValue) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(x),
            ..Default::default()
        }
    }

    #[test]
    fn as_string_matches_pdata_for_every_type() {
        let map = v(Value::KvlistValue(KeyValueList {
            values: vec![
                kv("z", v(Value::IntValue(1))),
                kv("a<", string("x\"&")),
                kv("m", EMPTY),
            ],
        }));
        let list = v(Value::ArrayValue(ArrayValue {
            values: vec![
                v(Value::BoolValue(true)),
                v(Value::DoubleValue(1.5)),
                v(Value::BytesValue(vec![1, 2])),
                map.clone(),
            ],
        }));
        let cases: Vec<(AnyValue, &str)> = vec![
            (string("héllo"), "héllo"),
            (v(Value::BoolValue(false)), "false"),
            (v(Value::IntValue(-42)), "-42"),
            (v(Value::DoubleValue(1.0)), "1"),
            (v(Value::DoubleValue(0.1)), "0.1"),
            (v(Value::DoubleValue(123456.789)), "123456.789"),
            (v(Value::DoubleValue(1e20)), "100000000000000000000"),
            (v(Value::DoubleValue(1e21)), "1e+21"),
            (v(Value::DoubleValue(1.5e-7)), "1.5e-7"),
            (v(Value::DoubleValue(0.000001)), "0.000001"),
            (
                v(Value::DoubleValue(f64::INFINITY)),
                "json: unsupported value: +Inf",
            ),
            (
                v(Value::DoubleValue(f64::NEG_INFINITY)),
                "json: unsupported value: -Inf",
            ),
            (
                v(Value::DoubleValue(f64::NAN)),
                "json: unsupported value: NaN",
            ),
            (v(Value::BytesValue(b"hi!".to_vec())), "aGkh"),
            (EMPTY, ""),
            (map, r#"{"a\u003c":"x\"\u0026","m":null,"z":1}"#),
            (
                list,
                r#"[true,1.5,"AQI=",{"a\u003c":"x\"\u0026","m":null,"z":1}]"#,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(as_string(&value), want, "{value:?}");
        }
    }

    #[test]
    fn first_match_is_read_and_set_and_every_match_removed() {
        let mut attrs = vec![
            kv("a", string("1")),
            kv("b", string("2")),
            kv("a", string("3")),
            KeyValue {
                key: "e".into(),
                ..Default::default()
            },
        ];
        assert_eq!(get(&attrs, "a"), Some(&string("1")));
        assert_eq!(get(&attrs, "e"), Some(&EMPTY), "an empty value is present");
        assert_eq!(get(&attrs, "x"), None);
        put(&mut attrs, "a", string("9"));
        put(&mut attrs, "new", string("n"));
        assert_eq!(attrs[0], kv("a", string("9")));
        assert_eq!(attrs[2], kv("a", string("3")));
        assert_eq!(attrs.last(), Some(&kv("new", string("n"))), "appended");
        assert!(remove(&mut attrs, "a"));
        assert!(!remove(&mut attrs, "a"));
        let keys: Vec<&str> = attrs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["b", "e", "new"]);
    }
}
