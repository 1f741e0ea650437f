//! Attribute value helpers shared by the content processors: pdata's `AsString`
//! (spec `processors.md` §0.4) and attribute-map updates with pdata's semantics
//! (first match is read and updated, new keys are appended; §0.3).

use std::fmt::Write as _;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};

/// The text form of a value as upstream's `AsString`: strings as is, numbers in
/// base 10 (doubles in the shortest ES6 form), bytes in standard base64, maps and
/// lists as JSON with sorted keys, an empty value as `""`.
pub fn as_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => float(*d),
        Some(Value::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(other) => {
            let mut s = String::new();
            json(Some(other), &mut s);
            s
        }
    }
}

/// A double as Go's JSON encoder writes it ('f' form, 'e' form outside
/// [1e-6, 1e21)). Non-finite values give upstream's error text.
fn float(d: f64) -> String {
    if d.is_nan() {
        return "json: unsupported value: NaN".into();
    }
    if d.is_infinite() {
        let sign = if d > 0.0 { "+" } else { "-" };
        return format!("json: unsupported value: {sign}Inf");
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let e = format!("{d:e}");
        // Rust writes `1e21`/`1e-7`; Go writes `1e+21`/`1e-07` trimmed to `1e-7`.
        match e.split_once('e') {
            Some((m, exp)) if !exp.starts_with('-') => format!("{m}e+{exp}"),
            _ => e,
        }
    } else {
        format!("{d}")
    }
}

fn json(v: Option<&Value>, out: &mut String) {
    match v {
        None => out.push_str("null"),
        Some(Value::StringValue(s)) => json_str(s, out),
        Some(Value::BoolValue(b)) => {
            let _ = write!(out, "{b}");
        }
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) if d.is_finite() => out.push_str(&float(*d)),
        Some(Value::DoubleValue(_)) => out.push_str("null"),
        Some(Value::BytesValue(b)) => {
            json_str(&base64::engine::general_purpose::STANDARD.encode(b), out)
        }
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, e) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(e.value.as_ref(), out);
            }
            out.push(']');
        }
        Some(Value::KvlistValue(kv)) => {
            let mut entries: Vec<&KeyValue> = kv.values.iter().collect();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            out.push('{');
            for (i, e) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(&e.key, out);
                out.push(':');
                json(e.value.as_ref().and_then(|v| v.value.as_ref()), out);
            }
            out.push('}');
        }
        #[allow(unreachable_patterns)]
        Some(_) => out.push_str("null"),
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

/// A string value.
pub fn string_value(s: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(s.into())),
    })
}

/// The value of the first attribute named `key`.
pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// Sets the first attribute named `key`, or appends it.
pub fn put(attrs: &mut Vec<KeyValue>, key: &str, value: Value) {
    let value = Some(AnyValue { value: Some(value) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = value,
        None => attrs.push(KeyValue {
            key: key.to_owned(),
            value,
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn v(x: Value) -> AnyValue {
        AnyValue { value: Some(x) }
    }

    #[test]
    fn as_string_matches_pdata() {
        let cases = [
            (v(Value::StringValue("a".into())), "a"),
            (v(Value::BoolValue(true)), "true"),
            (v(Value::IntValue(-42)), "-42"),
            (v(Value::DoubleValue(3.0)), "3"),
            (v(Value::DoubleValue(0.1)), "0.1"),
            (v(Value::DoubleValue(1e21)), "1e+21"),
            (v(Value::DoubleValue(1e-7)), "1e-7"),
            (v(Value::DoubleValue(123456789.5)), "123456789.5"),
            (
                v(Value::DoubleValue(f64::NAN)),
                "json: unsupported value: NaN",
            ),
            (v(Value::BytesValue(b"hi".to_vec())), "aGk="),
            (AnyValue { value: None }, ""),
            (
                v(Value::KvlistValue(KeyValueList {
                    values: vec![
                        KeyValue {
                            key: "b".into(),
                            value: Some(v(Value::IntValue(1))),
                            ..Default::default()
                        },
                        KeyValue {
                            key: "a".into(),
                            value: Some(v(Value::ArrayValue(ArrayValue {
                                values: vec![v(Value::StringValue("x\"".into()))],
                            }))),
                            ..Default::default()
                        },
                    ],
                })),
                r#"{"a":["x\""],"b":1}"#,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(as_string(Some(&value)), want, "{value:?}");
        }
    }

    #[test]
    fn put_updates_the_first_match_or_appends() {
        let mut attrs = vec![
            KeyValue {
                key: "k".into(),
                value: string_value("1"),
                ..Default::default()
            },
            KeyValue {
                key: "k".into(),
                value: string_value("2"),
                ..Default::default()
            },
        ];
        put(&mut attrs, "k", Value::IntValue(7));
        put(&mut attrs, "n", Value::BoolValue(false));
        assert_eq!(as_string(attrs[0].value.as_ref()), "7");
        assert_eq!(as_string(attrs[1].value.as_ref()), "2");
        assert_eq!(attrs[2].key, "n");
        assert_eq!(as_string(get(&attrs, "n")), "false");
    }
}
