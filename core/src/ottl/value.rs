//! Run-time values of OTTL and the rules on them: comparison, math and the
//! string forms (pdata `AsString` and OTTL `StringLike`). Values borrow from the
//! telemetry they were read from; they are copied only when written.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, KeyValue, KeyValueList,
};

use super::parser::BinOp;

/// An OTTL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    Map(Cow<'a, [KeyValue]>),
    List(Cow<'a, [AnyValue]>),
}

impl<'a> Value<'a> {
    /// Reads an attribute value (an empty `AnyValue` reads as nil).
    pub fn from_any(v: &'a AnyValue) -> Value<'a> {
        match &v.value {
            Some(any_value::Value::StringValue(s)) => Value::Str(Cow::Borrowed(s)),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Float(*d),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(Cow::Borrowed(b)),
            Some(any_value::Value::KvlistValue(m)) => Value::Map(Cow::Borrowed(&m.values)),
            Some(any_value::Value::ArrayValue(a)) => Value::List(Cow::Borrowed(&a.values)),
            _ => Value::Nil,
        }
    }

    /// The attribute value this value is stored as.
    pub fn into_any(self) -> AnyValue {
        let value = match self {
            Value::Nil => None,
            Value::Bool(b) => Some(any_value::Value::BoolValue(b)),
            Value::Int(i) => Some(any_value::Value::IntValue(i)),
            Value::Float(f) => Some(any_value::Value::DoubleValue(f)),
            Value::Str(s) => Some(any_value::Value::StringValue(s.into_owned())),
            Value::Bytes(b) => Some(any_value::Value::BytesValue(b.into_owned())),
            Value::Map(m) => Some(any_value::Value::KvlistValue(KeyValueList {
                values: m.into_owned(),
            })),
            Value::List(l) => Some(any_value::Value::ArrayValue(ArrayValue {
                values: l.into_owned(),
            })),
        };
        AnyValue { value }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Map(_) => "map",
            Value::List(_) => "list",
        }
    }

    /// OTTL `StringLike`: strings as is, bytes as lowercase hex, maps and lists
    /// as JSON, other scalars as pdata `AsString`; nil stays `None`.
    pub fn string_like(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Nil => None,
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Bytes(b) => Some(Cow::Owned(b.iter().fold(String::new(), |mut s, x| {
                let _ = write!(s, "{x:02x}");
                s
            }))),
            other => Some(Cow::Owned(other.as_string())),
        }
    }

    /// pdata `AsString`: bytes as base64, maps and lists as JSON, empty as "".
    pub fn as_string(&self) -> String {
        let mut s = String::new();
        match self {
            Value::Nil => {}
            Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => s.push_str(&i.to_string()),
            Value::Float(f) => s.push_str(&format_float(*f)),
            Value::Str(v) => s.push_str(v),
            Value::Bytes(b) => s.push_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            Value::Map(_) | Value::List(_) => json(self, &mut s),
        }
        s
    }
}

/// ES6 shortest form, as Go's JSON encoder writes floats.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "json: unsupported value: NaN".into();
    }
    if f.is_infinite() {
        return format!(
            "json: unsupported value: {}Inf",
            if f > 0.0 { "+" } else { "-" }
        );
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

fn json(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Str(s) => json_str(s, out),
        Value::Bytes(_) => json_str(&v.as_string(), out),
        Value::Map(m) => {
            let mut kv: Vec<&KeyValue> = m.iter().collect();
            kv.sort_by(|a, b| a.key.cmp(&b.key));
            out.push('{');
            for (i, e) in kv.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(&e.key, out);
                out.push(':');
                match &e.value {
                    Some(v) => json(&Value::from_any(v), out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
        Value::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(&Value::from_any(e), out);
            }
            out.push(']');
        }
        other => out.push_str(&other.as_string()),
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// OTTL comparison: ints and floats compare as floats, same-type primitives
/// compare normally, other combinations are only "not equal". Never an error.
pub fn compare(a: &Value<'_>, op: BinOp, b: &Value<'_>) -> bool {
    use Value::*;
    let ord: Option<Ordering> = match (a, b) {
        (Nil, Nil) => Some(Ordering::Equal),
        (Nil, Bytes(x)) | (Bytes(x), Nil) if x.is_empty() => Some(Ordering::Equal),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Bytes(x), Bytes(y)) => Some(x.cmp(y)),
        (Map(x), Map(y)) => {
            return match op {
                BinOp::Eq => x == y,
                BinOp::Ne => x != y,
                _ => false,
            }
        }
        (List(x), List(y)) => {
            return match op {
                BinOp::Eq => x == y,
                BinOp::Ne => x != y,
                _ => false,
            }
        }
        _ => None,
    };
    match ord {
        None => op == BinOp::Ne,
        Some(o) => match op {
            BinOp::Eq => o == Ordering::Equal,
            BinOp::Ne => o != Ordering::Equal,
            BinOp::Lt => o == Ordering::Less,
            BinOp::Le => o != Ordering::Greater,
            BinOp::Gt => o == Ordering::Greater,
            BinOp::Ge => o != Ordering::Less,
            _ => false,
        },
    }
}

/// `+ - * /` on two ints or two floats. Integer overflow wraps.
pub fn math(a: &Value<'_>, op: BinOp, b: &Value<'_>) -> Result<Value<'static>, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(Value::Int(match op {
            BinOp::Add => x.wrapping_add(*y),
            BinOp::Sub => x.wrapping_sub(*y),
            BinOp::Mul => x.wrapping_mul(*y),
            _ => {
                if *y == 0 {
                    return Err("division by zero".into());
                }
                x.wrapping_div(*y)
            }
        })),
        (Value::Float(x), Value::Float(y)) => Ok(Value::Float(match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            _ => {
                if *y == 0.0 {
                    return Err("division by zero".into());
                }
                x / y
            }
        })),
        _ => Err(format!(
            "math needs two ints or two floats, got {} and {}",
            a.type_name(),
            b.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(x))
    }

    #[test]
    fn comparison_table() {
        use BinOp::*;
        let cases = [
            (Value::Int(1), Eq, Value::Float(1.0), true),
            (Value::Int(1), Lt, Value::Float(1.5), true),
            (s("a"), Lt, s("b"), true),
            (Value::Bool(false), Lt, Value::Bool(true), true),
            (s("1"), Eq, Value::Int(1), false),
            (s("1"), Ne, Value::Int(1), true),
            (s("1"), Lt, Value::Int(1), false),
            (Value::Nil, Eq, Value::Nil, true),
            (Value::Nil, Eq, Value::Bytes(Cow::Borrowed(&[])), true),
            (Value::Nil, Ne, s(""), true),
            (Value::Float(f64::NAN), Eq, Value::Float(f64::NAN), false),
            (
                Value::List(Cow::Owned(vec![])),
                Eq,
                Value::List(Cow::Owned(vec![])),
                true,
            ),
            (
                Value::List(Cow::Owned(vec![])),
                Lt,
                Value::List(Cow::Owned(vec![])),
                false,
            ),
        ];
        for (a, op, b, want) in cases {
            assert_eq!(compare(&a, op, &b), want, "{a:?} {op:?} {b:?}");
        }
    }

    #[test]
    fn math_table() {
        use BinOp::*;
        assert_eq!(math(&Value::Int(7), Div, &Value::Int(2)), Ok(Value::Int(3)));
        assert_eq!(
            math(&Value::Int(i64::MAX), Add, &Value::Int(1)),
            Ok(Value::Int(i64::MIN))
        );
        assert_eq!(
            math(&Value::Int(i64::MIN), Div, &Value::Int(-1)),
            Ok(Value::Int(i64::MIN))
        );
        assert_eq!(
            math(&Value::Float(1.5), Mul, &Value::Float(2.0)),
            Ok(Value::Float(3.0))
        );
        assert!(math(&Value::Int(1), Div, &Value::Int(0)).is_err());
        assert!(math(&Value::Int(1), Add, &Value::Float(1.0)).is_err());
        assert!(math(&s("a"), Add, &s("b")).is_err());
    }

    #[test]
    fn string_forms() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(1e-7), "1e-7");
        assert_eq!(format_float(1.5e21), "1.5e+21");
        assert_eq!(format_float(f64::INFINITY), "json: unsupported value: +Inf");
        let b = Value::Bytes(Cow::Borrowed(&[0xde, 0xad]));
        assert_eq!(b.as_string(), "3q0=");
        assert_eq!(b.string_like().as_deref(), Some("dead"));
        let m = Value::Map(Cow::Owned(vec![
            KeyValue {
                key: "z".into(),
                value: Some(Value::Int(1).into_any()),
                ..Default::default()
            },
            KeyValue {
                key: "a".into(),
                value: Some(s("x\"").into_any()),
                ..Default::default()
            },
        ]));
        assert_eq!(m.as_string(), r#"{"a":"x\"","z":1}"#);
        assert_eq!(Value::Nil.string_like(), None);
    }
}
