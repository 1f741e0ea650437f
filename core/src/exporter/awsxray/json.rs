//! A small streaming JSON writer over a `String`: segment documents are written
//! field by field, without an intermediate value tree.

use std::fmt::Write as _;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};

/// Appends JSON tokens to a buffer; tracks only whether a separator is due.
pub(crate) struct JsonOut<'a> {
    pub buf: &'a mut String,
    comma: bool,
}

impl<'a> JsonOut<'a> {
    pub fn new(buf: &'a mut String) -> Self {
        JsonOut { buf, comma: false }
    }

    fn sep(&mut self) {
        if self.comma {
            self.buf.push(',');
        }
    }

    pub fn begin_obj(&mut self) {
        self.sep();
        self.buf.push('{');
        self.comma = false;
    }

    pub fn end_obj(&mut self) {
        self.buf.push('}');
        self.comma = true;
    }

    pub fn begin_arr(&mut self) {
        self.sep();
        self.buf.push('[');
        self.comma = false;
    }

    pub fn end_arr(&mut self) {
        self.buf.push(']');
        self.comma = true;
    }

    /// Writes `"k":`; the next call writes the value.
    pub fn key(&mut self, k: &str) {
        self.sep();
        escape_into(self.buf, k);
        self.buf.push(':');
        self.comma = false;
    }

    pub fn str(&mut self, v: &str) {
        self.sep();
        escape_into(self.buf, v);
        self.comma = true;
    }

    pub fn bool(&mut self, v: bool) {
        self.sep();
        self.buf.push_str(if v { "true" } else { "false" });
        self.comma = true;
    }

    pub fn int(&mut self, v: i64) {
        self.sep();
        let _ = write!(self.buf, "{v}");
        self.comma = true;
    }

    /// A float the way Go's encoder writes it (shortest form, no exponent for
    /// timestamps); non-finite values become `null`.
    pub fn float(&mut self, v: f64) {
        self.sep();
        if v.is_finite() {
            let _ = write!(self.buf, "{v}");
        } else {
            self.buf.push_str("null");
        }
        self.comma = true;
    }

    pub fn null(&mut self) {
        self.sep();
        self.buf.push_str("null");
        self.comma = true;
    }

    /// A 64-bit ID as 16 lowercase hex digits.
    pub fn hex_id(&mut self, id: u64) {
        self.sep();
        self.buf.push('"');
        push_hex(self.buf, &id.to_be_bytes());
        self.buf.push('"');
        self.comma = true;
    }

    /// An X-Ray trace ID: `"1-` + 8 hex digits + `-` + 24 hex digits.
    pub fn trace_id(&mut self, id: &[u8]) {
        self.sep();
        self.buf.push_str("\"1-");
        let split = id.len().min(4);
        push_hex(self.buf, &id[..split]);
        self.buf.push('-');
        push_hex(self.buf, &id[split..]);
        self.buf.push('"');
        self.comma = true;
    }

    /// A string made of parts (no intermediate allocation).
    pub fn str_parts(&mut self, parts: &[&str]) {
        self.sep();
        self.buf.push('"');
        for p in parts {
            escape_body(self.buf, p);
        }
        self.buf.push('"');
        self.comma = true;
    }

    /// `"<prefix><key>":`.
    pub fn key_prefixed(&mut self, prefix: &str, k: &str) {
        self.sep();
        self.buf.push('"');
        escape_body(self.buf, prefix);
        escape_body(self.buf, k);
        self.buf.push_str("\":");
        self.comma = false;
    }

    pub fn key_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    /// `"k":"v"` only when `v` is non-empty (Go's `awsxray.String` omits "").
    pub fn key_str_opt(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.key_str(k, v);
        }
    }

    /// An OTLP value as plain JSON (bytes as base64, like Go's `AsRaw`).
    pub fn any(&mut self, v: &AnyValue) {
        match &v.value {
            None => self.null(),
            Some(any_value::Value::StringValue(s)) => self.str(s),
            Some(any_value::Value::BoolValue(b)) => self.bool(*b),
            Some(any_value::Value::IntValue(i)) => self.int(*i),
            Some(any_value::Value::DoubleValue(d)) => self.float(*d),
            Some(any_value::Value::BytesValue(b)) => {
                use base64::Engine as _;
                self.str(&base64::engine::general_purpose::STANDARD.encode(b));
            }
            Some(any_value::Value::ArrayValue(a)) => {
                self.begin_arr();
                for e in &a.values {
                    self.any(e);
                }
                self.end_arr();
            }
            Some(any_value::Value::KvlistValue(kv)) => {
                self.begin_obj();
                for e in &kv.values {
                    self.key(&e.key);
                    match &e.value {
                        Some(v) => self.any(v),
                        None => self.null(),
                    }
                }
                self.end_obj();
            }
            // Dictionary-indexed strings (OTLP profiles only) never reach here.
            Some(_) => self.null(),
        }
    }

    /// A parsed JSON value (from `aws.xray.metadata.*` attributes).
    pub fn json(&mut self, v: &serde_json::Value) {
        match v {
            serde_json::Value::Null => self.null(),
            serde_json::Value::Bool(b) => self.bool(*b),
            serde_json::Value::Number(n) => {
                self.sep();
                let _ = write!(self.buf, "{n}");
                self.comma = true;
            }
            serde_json::Value::String(s) => self.str(s),
            serde_json::Value::Array(a) => {
                self.begin_arr();
                for e in a {
                    self.json(e);
                }
                self.end_arr();
            }
            serde_json::Value::Object(o) => {
                self.begin_obj();
                for (k, e) in o {
                    self.key(k);
                    self.json(e);
                }
                self.end_obj();
            }
        }
    }
}

fn push_hex(buf: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        buf.push(HEX[(b >> 4) as usize] as char);
        buf.push(HEX[(b & 15) as usize] as char);
    }
}

/// Appends `s` as a JSON string literal.
pub(crate) fn escape_into(buf: &mut String, s: &str) {
    buf.push('"');
    escape_body(buf, s);
    buf.push('"');
}

/// Appends the escaped characters of `s` (no quotes).
fn escape_body(buf: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        buf.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(buf, "\\u{b:04x}");
        } else {
            buf.push_str(esc);
        }
        start = i + 1;
    }
    buf.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_separators() {
        let mut s = String::new();
        let mut w = JsonOut::new(&mut s);
        w.begin_obj();
        w.key_str("a", "q\"\\\n\u{1}é");
        w.key("b");
        w.begin_arr();
        w.int(1);
        w.float(1.5);
        w.bool(false);
        w.float(f64::NAN);
        w.end_arr();
        w.key_str_opt("c", Some(""));
        w.key("d");
        w.hex_id(0xab);
        w.end_obj();
        assert_eq!(
            s,
            r#"{"a":"q\"\\\n\u0001é","b":[1,1.5,false,null],"d":"00000000000000ab"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "q\"\\\n\u{1}é");
    }

    #[test]
    fn timestamps_have_no_exponent() {
        let mut s = String::new();
        let mut w = JsonOut::new(&mut s);
        w.float(1_700_000_000_123_456_789u64 as f64 / 1e9);
        w.float(1e9);
        assert_eq!(s, "1700000000.1234567,1000000000");
    }
}
