//! OTLP/JSON decoding of export requests (traces, metrics, logs) into the prost types of
//! `opentelemetry-proto`, following the rules the upstream Go collector applies.
//!
//! The rules, in short:
//! - field names are accepted in lowerCamelCase (`traceId`) and in snake_case (`trace_id`);
//!   unknown fields are skipped whatever their value, and `null` stands for the default;
//! - trace and span ids are hex strings (any case) of exactly 16 / 8 bytes, or `""`;
//! - 64-bit and 32-bit integers are JSON integers or decimal strings; doubles are numbers or
//!   strings, including `"NaN"`, `"Infinity"` and `"-Infinity"`;
//! - enums are integers (unknown values kept) or their exact proto name;
//! - `bytesValue` is standard base64, padding optional;
//! - `AnyValue` nesting is capped at 16 levels and JSON nesting at 300, so hostile input fails
//!   fast instead of exhausting the stack.
//!
//! Where the Go collector is lenient about malformed input this decoder is stricter: at most one
//! member of a oneof (`stringValue`/`intValue`..., `gauge`/`sum`..., `asDouble`/`asInt`) may be
//! set, and the JSON text itself must be valid (RFC 8259, UTF-8, nothing after the value).
//! Repeated keys behave as in Go: the last scalar wins, repeated fields are concatenated.
//!
//! The body is first parsed into a small borrowed JSON tree (strings without escapes are not
//! copied), then mapped onto the prost structs. Errors carry the JSON path of the field.

use std::borrow::Cow;
use std::num::{IntErrorKind, ParseIntError};
use std::str::FromStr;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point,
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};

/// Deepest accepted nesting of `arrayValue` / `kvlistValue` (an attribute value or log body that
/// is a plain scalar is level 1).
///
/// 16 keeps every accepted JSON request re-encodable as protobuf that Tern's own scanner
/// (64 nested messages) and prost (100) accept wherever it is forwarded: the deepest OTLP
/// position (kvlist in exemplar attributes) starts at message depth 8 and each further
/// kvlist level adds 3, so 16 levels reach depth 53.
const MAX_ANY_VALUE_DEPTH: usize = 16;

/// Deepest accepted nesting of JSON arrays and objects. Leaves room for [`MAX_ANY_VALUE_DEPTH`]
/// levels of `kvlistValue` (4 JSON levels each) below the deepest OTLP envelope.
const MAX_JSON_DEPTH: usize = 300;

const TRACE_ID_LEN: usize = 16;
const SPAN_ID_LEN: usize = 8;

/// Longest piece of the input quoted back in an error message.
const EXCERPT_LEN: usize = 64;

/// Standard base64 alphabet; padding optional and, as in Go, non-zero trailing bits tolerated.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// A request body that is not valid OTLP/JSON.
///
/// Displays as `path: message`, e.g.
/// `resourceSpans[0].scopeSpans[0].spans[3].traceId: hex id must be 16 bytes, got 3`,
/// or as the bare message when the problem is not tied to a field (invalid JSON, for instance).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}{}", .path, if .path.is_empty() { "" } else { ": " }, .message)]
pub struct JsonError {
    path: String,
    message: String,
}

impl JsonError {
    /// JSON path of the offending field, with keys spelled as in the input; empty when the
    /// error concerns the document as a whole.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_traces(body: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    decode_document(body, |doc| {
        let mut req = ExportTraceServiceRequest::default();
        for_each_member(doc, |key, value| match key {
            "resourceSpans" | "resource_spans" => {
                decode_list(value, &mut req.resource_spans, resource_spans)
            }
            _ => Ok(()),
        })?;
        Ok(req)
    })
}

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode_metrics(body: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    decode_document(body, |doc| {
        let mut req = ExportMetricsServiceRequest::default();
        for_each_member(doc, |key, value| match key {
            "resourceMetrics" | "resource_metrics" => {
                decode_list(value, &mut req.resource_metrics, resource_metrics)
            }
            _ => Ok(()),
        })?;
        Ok(req)
    })
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode_logs(body: &[u8]) -> Result<ExportLogsServiceRequest, JsonError> {
    decode_document(body, |doc| {
        let mut req = ExportLogsServiceRequest::default();
        for_each_member(doc, |key, value| match key {
            "resourceLogs" | "resource_logs" => {
                decode_list(value, &mut req.resource_logs, resource_logs)
            }
            _ => Ok(()),
        })?;
        Ok(req)
    })
}

/// Encodes a google.rpc.Status as protojson: {"code":14,"message":"..."} (omit message when empty).
///
/// `code` is always written, so that a client always sees it.
pub fn encode_status(code: i32, message: &str) -> Vec<u8> {
    let mut out = String::with_capacity(32 + message.len());
    out.push_str("{\"code\":");
    out.push_str(&code.to_string());
    if !message.is_empty() {
        out.push_str(",\"message\":");
        push_json_string(&mut out, message);
    }
    out.push('}');
    out.into_bytes()
}

fn push_json_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let b = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Errors carrying a JSON path
// ---------------------------------------------------------------------------------------------

/// One step of a JSON path.
#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

/// An error on its way up: the path is collected innermost first, so the success path pays
/// nothing for it.
#[derive(Debug)]
struct Failure {
    reversed_path: Vec<Segment>,
    message: String,
}

type R<T> = Result<T, Box<Failure>>;

impl Failure {
    fn new(message: impl Into<String>) -> Box<Self> {
        Box::new(Failure {
            reversed_path: Vec::new(),
            message: message.into(),
        })
    }

    fn at_key(mut self: Box<Self>, key: &str) -> Box<Self> {
        self.reversed_path.push(Segment::Key(key.to_owned()));
        self
    }

    fn at_index(mut self: Box<Self>, index: usize) -> Box<Self> {
        self.reversed_path.push(Segment::Index(index));
        self
    }
}

impl From<Box<Failure>> for JsonError {
    fn from(failure: Box<Failure>) -> Self {
        let mut path = String::new();
        for segment in failure.reversed_path.iter().rev() {
            match segment {
                Segment::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Segment::Index(index) => {
                    path.push('[');
                    path.push_str(&index.to_string());
                    path.push(']');
                }
            }
        }
        JsonError {
            path,
            message: failure.message,
        }
    }
}

fn fail<T>(message: impl Into<String>) -> R<T> {
    Err(Failure::new(message))
}

fn type_error<T>(expected: &str, got: &Json<'_>) -> R<T> {
    fail(format!("expected {expected}, got {}", got.kind()))
}

/// Quotes a piece of the input for an error message, shortened if long.
fn excerpt(text: &str) -> String {
    if text.len() <= EXCERPT_LEN {
        return format!("{text:?}");
    }
    let mut cut = EXCERPT_LEN;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{:?}...", &text[..cut])
}

// ---------------------------------------------------------------------------------------------
// JSON parsing
// ---------------------------------------------------------------------------------------------

/// A parsed JSON value borrowing from the request body. Numbers keep their text so that each
/// field can apply its own rules; objects keep their members in order.
#[derive(Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

/// A recursive-descent parser for RFC 8259 JSON over already validated UTF-8. Recursion is
/// bounded by [`MAX_JSON_DEPTH`], checked before descending.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn parse(body: &'a [u8]) -> R<Json<'a>> {
        let text = std::str::from_utf8(body).map_err(|e| {
            Failure::new(format!(
                "invalid UTF-8 in request body at byte {}",
                e.valid_up_to()
            ))
        })?;
        let mut parser = Parser { text, pos: 0 };
        parser.skip_whitespace();
        let value = parser.value(0)?;
        parser.skip_whitespace();
        if parser.pos != text.len() {
            return Err(parser.error("unexpected data after the JSON value"));
        }
        Ok(value)
    }

    fn error(&self, what: &str) -> Box<Failure> {
        let before = &self.text.as_bytes()[..self.pos.min(self.text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        let message = if self.pos >= self.text.len() {
            format!("invalid JSON: {what} (unexpected end of input)")
        } else {
            format!("invalid JSON at line {line}, column {column}: {what}")
        };
        Failure::new(message)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> R<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// Parses one value; `depth` is the number of arrays and objects around it.
    fn value(&mut self, depth: usize) -> R<Json<'a>> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) | None => Err(self.error("expected a JSON value")),
        }
    }

    fn check_depth(&self, depth: usize) -> R<()> {
        if depth > MAX_JSON_DEPTH {
            return Err(self.error(&format!(
                "arrays and objects nested deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> R<Json<'a>> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            self.expect(b':', "expected ':' after an object key")?;
            self.skip_whitespace();
            let value = self.value(depth)?;
            charge(std::mem::size_of::<(Cow<'a, str>, Json<'a>)>())?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> R<Json<'a>> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_whitespace();
            let item = self.value(depth)?;
            charge(std::mem::size_of::<Json<'a>>())?;
            items.push(item);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> R<Json<'a>> {
        if self.rest().starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn digits(&mut self) -> bool {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Checks the number grammar and returns the number's text.
    fn number(&mut self) -> R<Json<'a>> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.digits() {
                return Err(self.error("invalid number: expected digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.digits() {
                return Err(self.error("invalid number: expected digits in the exponent"));
            }
        }
        Ok(Json::Number(&self.text[start..self.pos]))
    }

    /// Parses a string; only strings with escapes are copied.
    fn string(&mut self) -> R<Cow<'a, str>> {
        self.pos += 1; // opening quote
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(b) if b < 0x20 => {
                    return Err(self.error("unescaped control character in a string"))
                }
                Some(_) => self.pos += 1,
                None => return Err(self.error("unterminated string")),
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
                }
                Some(b) if b < 0x20 => {
                    return Err(self.error("unescaped control character in a string"))
                }
                Some(_) => {
                    let run = self.pos;
                    while let Some(b) = self.peek() {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run..self.pos]);
                }
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// Decodes the escape after a backslash. Unpaired surrogates become U+FFFD, as in Go.
    fn escape(&mut self) -> R<char> {
        let Some(b) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => self.low_surrogate(unit)?,
                    0xDC00..=0xDFFF => char::REPLACEMENT_CHARACTER,
                    _ => char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER),
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.error("invalid escape in a string"));
            }
        };
        Ok(c)
    }

    /// Completes a surrogate pair whose high half is `high`; leaves the input alone if the
    /// next escape is not a low surrogate.
    fn low_surrogate(&mut self, high: u32) -> R<char> {
        if !self.rest().starts_with(b"\\u") {
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        let saved = self.pos;
        self.pos += 2;
        let low = self.hex4()?;
        if !(0xDC00..=0xDFFF).contains(&low) {
            self.pos = saved;
            return Ok(char::REPLACEMENT_CHARACTER);
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn hex4(&mut self) -> R<u32> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(hex_nibble);
            let Some(digit) = digit else {
                return Err(self.error("invalid \\u escape in a string"));
            };
            unit = unit << 4 | u32::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }
}

fn hex_nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Field readers
// ---------------------------------------------------------------------------------------------

/// Memory a request may take while decoded, beyond its body: the parse tree and the
/// decoded messages together. OTLP/JSON is verbose, so real requests need a fraction of
/// this; what exceeds it is a flood of tiny items (`[{},{},…]` decodes to ~100× its
/// size) and is refused before it can exhaust memory.
pub fn decode_budget(body_len: usize) -> usize {
    64 * 1024 * 1024 + body_len.saturating_mul(8)
}

thread_local! {
    /// Bytes left in the current request's decode budget (decoding is synchronous, so
    /// a thread-local is per request).
    static BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Charges `bytes` against the current request's decode budget.
fn charge(bytes: usize) -> R<()> {
    BUDGET.with(|b| {
        let left = b.get();
        if bytes > left {
            b.set(0);
            fail(
                "request too large once decoded: OTLP/JSON with this many items needs more \
                 memory than the decode budget (64 MiB + 8 × body); send OTLP/protobuf or \
                 split the request",
            )
        } else {
            b.set(left - bytes);
            Ok(())
        }
    })
}

/// Parses the body, checks that it is an object and maps it with `decode`.
fn decode_document<'a, T>(
    body: &'a [u8],
    decode: impl FnOnce(&Json<'a>) -> R<T>,
) -> Result<T, JsonError> {
    BUDGET.with(|b| b.set(decode_budget(body.len())));
    let doc = Parser::parse(body)?;
    if !matches!(doc, Json::Object(_)) {
        return Err(Failure::new(format!(
            "the request must be a JSON object, got {}",
            doc.kind()
        ))
        .into());
    }
    Ok(decode(&doc)?)
}

/// Calls `f` with each member of an object (`null` has none), adding the key to the path of
/// any error.
fn for_each_member<'v, 'a>(
    value: &'v Json<'a>,
    mut f: impl FnMut(&'v str, &'v Json<'a>) -> R<()>,
) -> R<()> {
    let members = match value {
        Json::Object(members) => members,
        Json::Null => return Ok(()),
        other => return type_error("an object", other),
    };
    for (key, member) in members {
        f(key, member).map_err(|e| e.at_key(key))?;
    }
    Ok(())
}

/// Appends each element of an array (`null` has none) to `out`, adding the index to the path
/// of any error.
fn decode_list<'v, 'a, T>(
    value: &'v Json<'a>,
    out: &mut Vec<T>,
    mut decode: impl FnMut(&'v Json<'a>) -> R<T>,
) -> R<()> {
    let items = match value {
        Json::Array(items) => items,
        Json::Null => return Ok(()),
        other => return type_error("an array", other),
    };
    charge(items.len().saturating_mul(std::mem::size_of::<T>()))?;
    out.reserve(items.len());
    for (index, item) in items.iter().enumerate() {
        out.push(decode(item).map_err(|e| e.at_index(index))?);
    }
    Ok(())
}

/// Like [`decode_list`] for scalars, whose elements may not be `null`.
fn decode_scalar_list<T>(
    value: &Json<'_>,
    out: &mut Vec<T>,
    decode: fn(&Json<'_>) -> R<T>,
) -> R<()> {
    decode_list(value, out, |item| {
        if item.is_null() {
            return fail("null is not allowed in a list of numbers");
        }
        decode(item)
    })
}

fn assign<T>(slot: &mut T, value: R<T>) -> R<()> {
    *slot = value?;
    Ok(())
}

/// `null` is `None`; anything else is decoded.
fn optional<'v, 'a, T>(
    value: &'v Json<'a>,
    decode: impl FnOnce(&'v Json<'a>) -> R<T>,
) -> R<Option<T>> {
    if value.is_null() {
        Ok(None)
    } else {
        decode(value).map(Some)
    }
}

/// Tracks a proto oneof: a second, different member is an error (the same member twice: the
/// last one wins, like any repeated key).
struct OneOf<'k, T> {
    key: &'k str,
    value: Option<T>,
}

impl<'k, T> OneOf<'k, T> {
    fn new() -> Self {
        OneOf {
            key: "",
            value: None,
        }
    }

    fn set(&mut self, key: &'k str, value: T) -> R<()> {
        if let Some(previous) = &self.value {
            if std::mem::discriminant(previous) != std::mem::discriminant(&value) {
                return fail(format!(
                    "{key:?} and {:?} cannot both be set (only one member of a oneof is allowed)",
                    self.key
                ));
            }
        }
        self.key = key;
        self.value = Some(value);
        Ok(())
    }
}

fn string(value: &Json<'_>) -> R<String> {
    match value {
        Json::String(s) => Ok(s.as_ref().to_owned()),
        Json::Null => Ok(String::new()),
        other => type_error("a string", other),
    }
}

fn boolean(value: &Json<'_>) -> R<bool> {
    match value {
        Json::Bool(b) => Ok(*b),
        Json::Null => Ok(false),
        other => type_error("a boolean", other),
    }
}

/// The integer types of the OTLP protos.
trait Integer: FromStr<Err = ParseIntError> + Default {
    const NAME: &'static str;
    const SIGNED: bool;
}

impl Integer for i64 {
    const NAME: &'static str = "int64";
    const SIGNED: bool = true;
}

impl Integer for u64 {
    const NAME: &'static str = "uint64";
    const SIGNED: bool = false;
}

impl Integer for i32 {
    const NAME: &'static str = "int32";
    const SIGNED: bool = true;
}

impl Integer for u32 {
    const NAME: &'static str = "uint32";
    const SIGNED: bool = false;
}

/// An integer given as a JSON integer or a decimal string (as Go's `strconv.ParseInt` /
/// `ParseUint` read it: optional sign for signed types only, no spaces).
fn integer<T: Integer>(value: &Json<'_>) -> R<T> {
    let text: &str = match value {
        Json::Number(raw) => {
            if raw.contains(['.', 'e', 'E']) {
                return fail(format!(
                    "expected an integer for {}, got the number {}",
                    T::NAME,
                    excerpt(raw)
                ));
            }
            raw
        }
        Json::String(s) => s,
        Json::Null => return Ok(T::default()),
        other => return type_error("an integer (number or decimal string)", other),
    };
    if !T::SIGNED && text.starts_with('-') {
        return fail(format!(
            "{} is out of range for {} (negative)",
            excerpt(text),
            T::NAME
        ));
    }
    if !T::SIGNED && text.starts_with('+') {
        return fail(format!("invalid {} {}", T::NAME, excerpt(text)));
    }
    text.parse::<T>().map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            Failure::new(format!("{} is out of range for {}", excerpt(text), T::NAME))
        }
        _ => Failure::new(format!("invalid {} {}", T::NAME, excerpt(text))),
    })
}

fn int64(value: &Json<'_>) -> R<i64> {
    integer(value)
}

fn uint64(value: &Json<'_>) -> R<u64> {
    integer(value)
}

fn int32(value: &Json<'_>) -> R<i32> {
    integer(value)
}

fn uint32(value: &Json<'_>) -> R<u32> {
    integer(value)
}

/// A double given as a JSON number or a string (`"1.5"`, `"NaN"`, `"Infinity"`, `"-Infinity"`).
fn double(value: &Json<'_>) -> R<f64> {
    let (text, from_string) = match value {
        Json::Number(raw) => (*raw, false),
        Json::String(s) => (s.as_ref(), true),
        Json::Null => return Ok(0.0),
        other => return type_error("a number", other),
    };
    let Ok(number) = text.parse::<f64>() else {
        return fail(format!("invalid double {}", excerpt(text)));
    };
    if number.is_infinite() && !(from_string && names_infinity(text)) {
        return fail(format!("{} is out of range for double", excerpt(text)));
    }
    Ok(number)
}

fn names_infinity(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity")
}

/// An enum given as its integer value (kept even if unknown) or its exact proto name.
fn enumeration(value: &Json<'_>, type_name: &str, from_name: fn(&str) -> Option<i32>) -> R<i32> {
    match value {
        Json::Number(_) => integer::<i32>(value),
        Json::String(name) => from_name(name)
            .ok_or_else(|| Failure::new(format!("unknown {type_name} value {}", excerpt(name)))),
        Json::Null => Ok(0),
        other => type_error("an enum name or integer", other),
    }
}

fn span_kind_from_name(name: &str) -> Option<i32> {
    span::SpanKind::from_str_name(name).map(i32::from)
}

fn status_code_from_name(name: &str) -> Option<i32> {
    status::StatusCode::from_str_name(name).map(i32::from)
}

fn severity_number_from_name(name: &str) -> Option<i32> {
    SeverityNumber::from_str_name(name).map(i32::from)
}

fn temporality_from_name(name: &str) -> Option<i32> {
    AggregationTemporality::from_str_name(name).map(i32::from)
}

/// A trace or span id: a hex string of exactly `len` bytes, or `""` for the empty id.
fn hex_id(value: &Json<'_>, len: usize) -> R<Vec<u8>> {
    let text = match value {
        Json::String(s) => s.as_ref(),
        Json::Null => return Ok(Vec::new()),
        other => return type_error("a hex string", other),
    };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.len() % 2 != 0 {
        return fail(format!(
            "hex id must be {len} bytes, got an odd number of hex digits ({})",
            text.len()
        ));
    }
    if text.len() / 2 != len {
        return fail(format!(
            "hex id must be {len} bytes, got {}",
            text.len() / 2
        ));
    }
    let mut id = Vec::with_capacity(len);
    for pair in text.as_bytes().chunks_exact(2) {
        match (hex_nibble(pair[0]), hex_nibble(pair[1])) {
            (Some(high), Some(low)) => id.push(high << 4 | low),
            _ => return fail(format!("invalid hex id {}", excerpt(text))),
        }
    }
    Ok(id)
}

fn base64_bytes(value: &Json<'_>) -> R<Vec<u8>> {
    let text = match value {
        Json::String(s) => s.as_ref(),
        Json::Null => return Ok(Vec::new()),
        other => return type_error("a base64 string", other),
    };
    BASE64
        .decode(text)
        .map_err(|e| Failure::new(format!("invalid base64: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Common messages
// ---------------------------------------------------------------------------------------------

fn resource(value: &Json<'_>) -> R<Resource> {
    let mut resource = Resource::default();
    for_each_member(value, |key, value| match key {
        "attributes" => decode_list(value, &mut resource.attributes, attribute),
        "droppedAttributesCount" | "dropped_attributes_count" => {
            assign(&mut resource.dropped_attributes_count, uint32(value))
        }
        "entityRefs" | "entity_refs" => decode_list(value, &mut resource.entity_refs, entity_ref),
        _ => Ok(()),
    })?;
    Ok(resource)
}

fn entity_ref(value: &Json<'_>) -> R<EntityRef> {
    let mut entity = EntityRef::default();
    for_each_member(value, |key, value| match key {
        "schemaUrl" | "schema_url" => assign(&mut entity.schema_url, string(value)),
        "type" => assign(&mut entity.r#type, string(value)),
        "idKeys" | "id_keys" => decode_list(value, &mut entity.id_keys, string),
        "descriptionKeys" | "description_keys" => {
            decode_list(value, &mut entity.description_keys, string)
        }
        _ => Ok(()),
    })?;
    Ok(entity)
}

fn scope(value: &Json<'_>) -> R<InstrumentationScope> {
    let mut scope = InstrumentationScope::default();
    for_each_member(value, |key, value| match key {
        "name" => assign(&mut scope.name, string(value)),
        "version" => assign(&mut scope.version, string(value)),
        "attributes" => decode_list(value, &mut scope.attributes, attribute),
        "droppedAttributesCount" | "dropped_attributes_count" => {
            assign(&mut scope.dropped_attributes_count, uint32(value))
        }
        _ => Ok(()),
    })?;
    Ok(scope)
}

/// A top-level attribute: its value is at `AnyValue` level 1.
fn attribute(value: &Json<'_>) -> R<KeyValue> {
    key_value(value, 1)
}

fn key_value(value: &Json<'_>, depth: usize) -> R<KeyValue> {
    let mut kv = KeyValue::default();
    for_each_member(value, |key, value| match key {
        "key" => assign(&mut kv.key, string(value)),
        "value" => assign(&mut kv.value, optional(value, |v| any_value(v, depth))),
        _ => Ok(()),
    })?;
    Ok(kv)
}

/// An `AnyValue` at nesting level `depth` (1 for an attribute value or a log body).
fn any_value(value: &Json<'_>, depth: usize) -> R<AnyValue> {
    if depth > MAX_ANY_VALUE_DEPTH {
        return fail(format!(
            "AnyValue nested deeper than {MAX_ANY_VALUE_DEPTH} levels"
        ));
    }
    let mut oneof = OneOf::new();
    for_each_member(value, |key, value| {
        if value.is_null() {
            return Ok(());
        }
        let decoded = match key {
            "stringValue" | "string_value" => any_value::Value::StringValue(string(value)?),
            "boolValue" | "bool_value" => any_value::Value::BoolValue(boolean(value)?),
            "intValue" | "int_value" => any_value::Value::IntValue(int64(value)?),
            "doubleValue" | "double_value" => any_value::Value::DoubleValue(double(value)?),
            "bytesValue" | "bytes_value" => any_value::Value::BytesValue(base64_bytes(value)?),
            "arrayValue" | "array_value" => {
                any_value::Value::ArrayValue(array_value(value, depth)?)
            }
            "kvlistValue" | "kvlist_value" => {
                any_value::Value::KvlistValue(kvlist_value(value, depth)?)
            }
            _ => return Ok(()),
        };
        oneof.set(key, decoded)
    })?;
    Ok(AnyValue { value: oneof.value })
}

/// The `arrayValue` of an `AnyValue` at level `depth`; its elements are one level deeper.
fn array_value(value: &Json<'_>, depth: usize) -> R<ArrayValue> {
    let mut array = ArrayValue::default();
    for_each_member(value, |key, value| match key {
        "values" => decode_list(value, &mut array.values, |v| any_value(v, depth + 1)),
        _ => Ok(()),
    })?;
    Ok(array)
}

/// The `kvlistValue` of an `AnyValue` at level `depth`; its values are one level deeper.
fn kvlist_value(value: &Json<'_>, depth: usize) -> R<KeyValueList> {
    let mut list = KeyValueList::default();
    for_each_member(value, |key, value| match key {
        "values" => decode_list(value, &mut list.values, |v| key_value(v, depth + 1)),
        _ => Ok(()),
    })?;
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Traces
// ---------------------------------------------------------------------------------------------

fn resource_spans(value: &Json<'_>) -> R<ResourceSpans> {
    let mut rs = ResourceSpans::default();
    for_each_member(value, |key, value| match key {
        "resource" => assign(&mut rs.resource, optional(value, resource)),
        "scopeSpans" | "scope_spans" => decode_list(value, &mut rs.scope_spans, scope_spans),
        "schemaUrl" | "schema_url" => assign(&mut rs.schema_url, string(value)),
        _ => Ok(()),
    })?;
    Ok(rs)
}

fn scope_spans(value: &Json<'_>) -> R<ScopeSpans> {
    let mut ss = ScopeSpans::default();
    for_each_member(value, |key, value| match key {
        "scope" => assign(&mut ss.scope, optional(value, scope)),
        "spans" => decode_list(value, &mut ss.spans, span),
        "schemaUrl" | "schema_url" => assign(&mut ss.schema_url, string(value)),
        _ => Ok(()),
    })?;
    Ok(ss)
}

fn span(value: &Json<'_>) -> R<Span> {
    let mut s = Span::default();
    for_each_member(value, |key, value| match key {
        "traceId" | "trace_id" => assign(&mut s.trace_id, hex_id(value, TRACE_ID_LEN)),
        "spanId" | "span_id" => assign(&mut s.span_id, hex_id(value, SPAN_ID_LEN)),
        "traceState" | "trace_state" => assign(&mut s.trace_state, string(value)),
        "parentSpanId" | "parent_span_id" => {
            assign(&mut s.parent_span_id, hex_id(value, SPAN_ID_LEN))
        }
        "flags" => assign(&mut s.flags, uint32(value)),
        "name" => assign(&mut s.name, string(value)),
        "kind" => assign(
            &mut s.kind,
            enumeration(value, "SpanKind", span_kind_from_name),
        ),
        "startTimeUnixNano" | "start_time_unix_nano" => {
            assign(&mut s.start_time_unix_nano, uint64(value))
        }
        "endTimeUnixNano" | "end_time_unix_nano" => {
            assign(&mut s.end_time_unix_nano, uint64(value))
        }
        "attributes" => decode_list(value, &mut s.attributes, attribute),
        "droppedAttributesCount" | "dropped_attributes_count" => {
            assign(&mut s.dropped_attributes_count, uint32(value))
        }
        "events" => decode_list(value, &mut s.events, span_event),
        "droppedEventsCount" | "dropped_events_count" => {
            assign(&mut s.dropped_events_count, uint32(value))
        }
        "links" => decode_list(value, &mut s.links, span_link),
        "droppedLinksCount" | "dropped_links_count" => {
            assign(&mut s.dropped_links_count, uint32(value))
        }
        "status" => assign(&mut s.status, optional(value, span_status)),
        _ => Ok(()),
    })?;
    Ok(s)
}

fn span_event(value: &Json<'_>) -> R<span::Event> {
    let mut event = span::Event::default();
    for_each_member(value, |key, value| match key {
        "timeUnixNano" | "time_unix_nano" => assign(&mut event.time_unix_nano, uint64(value)),
        "name" => assign(&mut event.name, string(value)),
        "attributes" => decode_list(value, &mut event.attributes, attribute),
        "droppedAttributesCount" | "dropped_attributes_count" => {
            assign(&mut event.dropped_attributes_count, uint32(value))
        }
        _ => Ok(()),
    })?;
    Ok(event)
}

fn span_link(value: &Json<'_>) -> R<span::Link> {
    let mut link = span::Link::default();
    for_each_member(value, |key, value| match key {
        "traceId" | "trace_id" => assign(&mut link.trace_id, hex_id(value, TRACE_ID_LEN)),
        "spanId" | "span_id" => assign(&mut link.span_id, hex_id(value, SPAN_ID_LEN)),
        "traceState" | "trace_state" => assign(&mut link.trace_state, string(value)),
        "attributes" => decode_list(value, &mut link.attributes, attribute),
        "droppedAttributesCount" | "dropped_attributes_count" => {
            assign(&mut link.dropped_attributes_count, uint32(value))
        }
        "flags" => assign(&mut link.flags, uint32(value)),
        _ => Ok(()),
    })?;
    Ok(link)
}

fn span_status(value: &Json<'_>) -> R<Status> {
    let mut st = Status::default();
    for_each_member(value, |key, value| match key {
        "message" => assign(&mut st.message, string(value)),
        "code" => assign(
            &mut st.code,
            enumeration(value, "StatusCode", status_code_from_name),
        ),
        _ => Ok(()),
    })?;
    Ok(st)
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

fn resource_metrics(value: &Json<'_>) -> R<ResourceMetrics> {
    let mut rm = ResourceMetrics::default();
    for_each_member(value, |key, value| match key {
        "resource" => assign(&mut rm.resource, optional(value, resource)),
        "scopeMetrics" | "scope_metrics" => {
            decode_list(value, &mut rm.scope_metrics, scope_metrics)
        }
        "schemaUrl" | "schema_url" => assign(&mut rm.schema_url, string(value)),
        _ => Ok(()),
    })?;
    Ok(rm)
}

fn scope_metrics(value: &Json<'_>) -> R<ScopeMetrics> {
    let mut sm = ScopeMetrics::default();
    for_each_member(value, |key, value| match key {
        "scope" => assign(&mut sm.scope, optional(value, scope)),
        "metrics" => decode_list(value, &mut sm.metrics, metric),
        "schemaUrl" | "schema_url" => assign(&mut sm.schema_url, string(value)),
        _ => Ok(()),
    })?;
    Ok(sm)
}

fn metric(value: &Json<'_>) -> R<Metric> {
    let mut m = Metric::default();
    let mut data = OneOf::new();
    for_each_member(value, |key, value| {
        let decoded = match key {
            "name" => return assign(&mut m.name, string(value)),
            "description" => return assign(&mut m.description, string(value)),
            "unit" => return assign(&mut m.unit, string(value)),
            "metadata" => return decode_list(value, &mut m.metadata, attribute),
            _ if value.is_null() => return Ok(()),
            "gauge" => metric::Data::Gauge(gauge(value)?),
            "sum" => metric::Data::Sum(sum(value)?),
            "histogram" => metric::Data::Histogram(histogram(value)?),
            "exponentialHistogram" | "exponential_histogram" => {
                metric::Data::ExponentialHistogram(exponential_histogram(value)?)
            }
            "summary" => metric::Data::Summary(summary(value)?),
            _ => return Ok(()),
        };
        data.set(key, decoded)
    })?;
    m.data = data.value;
    Ok(m)
}

fn gauge(value: &Json<'_>) -> R<Gauge> {
    let mut g = Gauge::default();
    for_each_member(value, |key, value| match key {
        "dataPoints" | "data_points" => decode_list(value, &mut g.data_points, number_point),
        _ => Ok(()),
    })?;
    Ok(g)
}

fn sum(value: &Json<'_>) -> R<Sum> {
    let mut s = Sum::default();
    for_each_member(value, |key, value| match key {
        "dataPoints" | "data_points" => decode_list(value, &mut s.data_points, number_point),
        "aggregationTemporality" | "aggregation_temporality" => {
            assign(&mut s.aggregation_temporality, temporality(value))
        }
        "isMonotonic" | "is_monotonic" => assign(&mut s.is_monotonic, boolean(value)),
        _ => Ok(()),
    })?;
    Ok(s)
}

fn histogram(value: &Json<'_>) -> R<Histogram> {
    let mut h = Histogram::default();
    for_each_member(value, |key, value| match key {
        "dataPoints" | "data_points" => decode_list(value, &mut h.data_points, histogram_point),
        "aggregationTemporality" | "aggregation_temporality" => {
            assign(&mut h.aggregation_temporality, temporality(value))
        }
        _ => Ok(()),
    })?;
    Ok(h)
}

fn exponential_histogram(value: &Json<'_>) -> R<ExponentialHistogram> {
    let mut h = ExponentialHistogram::default();
    for_each_member(value, |key, value| match key {
        "dataPoints" | "data_points" => {
            decode_list(value, &mut h.data_points, exponential_histogram_point)
        }
        "aggregationTemporality" | "aggregation_temporality" => {
            assign(&mut h.aggregation_temporality, temporality(value))
        }
        _ => Ok(()),
    })?;
    Ok(h)
}

fn summary(value: &Json<'_>) -> R<Summary> {
    let mut s = Summary::default();
    for_each_member(value, |key, value| match key {
        "dataPoints" | "data_points" => decode_list(value, &mut s.data_points, summary_point),
        _ => Ok(()),
    })?;
    Ok(s)
}

fn temporality(value: &Json<'_>) -> R<i32> {
    enumeration(value, "AggregationTemporality", temporality_from_name)
}

fn number_point(value: &Json<'_>) -> R<NumberDataPoint> {
    let mut p = NumberDataPoint::default();
    let mut number = OneOf::new();
    for_each_member(value, |key, value| {
        let decoded = match key {
            "attributes" => return decode_list(value, &mut p.attributes, attribute),
            "startTimeUnixNano" | "start_time_unix_nano" => {
                return assign(&mut p.start_time_unix_nano, uint64(value))
            }
            "timeUnixNano" | "time_unix_nano" => {
                return assign(&mut p.time_unix_nano, uint64(value))
            }
            "exemplars" => return decode_list(value, &mut p.exemplars, exemplar),
            "flags" => return assign(&mut p.flags, uint32(value)),
            _ if value.is_null() => return Ok(()),
            "asDouble" | "as_double" => number_data_point::Value::AsDouble(double(value)?),
            "asInt" | "as_int" => number_data_point::Value::AsInt(int64(value)?),
            _ => return Ok(()),
        };
        number.set(key, decoded)
    })?;
    p.value = number.value;
    Ok(p)
}

fn exemplar(value: &Json<'_>) -> R<Exemplar> {
    let mut e = Exemplar::default();
    let mut number = OneOf::new();
    for_each_member(value, |key, value| {
        let decoded = match key {
            "filteredAttributes" | "filtered_attributes" => {
                return decode_list(value, &mut e.filtered_attributes, attribute)
            }
            "timeUnixNano" | "time_unix_nano" => {
                return assign(&mut e.time_unix_nano, uint64(value))
            }
            "spanId" | "span_id" => return assign(&mut e.span_id, hex_id(value, SPAN_ID_LEN)),
            "traceId" | "trace_id" => return assign(&mut e.trace_id, hex_id(value, TRACE_ID_LEN)),
            _ if value.is_null() => return Ok(()),
            "asDouble" | "as_double" => exemplar::Value::AsDouble(double(value)?),
            "asInt" | "as_int" => exemplar::Value::AsInt(int64(value)?),
            _ => return Ok(()),
        };
        number.set(key, decoded)
    })?;
    e.value = number.value;
    Ok(e)
}

fn histogram_point(value: &Json<'_>) -> R<HistogramDataPoint> {
    let mut p = HistogramDataPoint::default();
    for_each_member(value, |key, value| match key {
        "attributes" => decode_list(value, &mut p.attributes, attribute),
        "startTimeUnixNano" | "start_time_unix_nano" => {
            assign(&mut p.start_time_unix_nano, uint64(value))
        }
        "timeUnixNano" | "time_unix_nano" => assign(&mut p.time_unix_nano, uint64(value)),
        "count" => assign(&mut p.count, uint64(value)),
        "sum" => assign(&mut p.sum, optional(value, double)),
        "bucketCounts" | "bucket_counts" => decode_scalar_list(value, &mut p.bucket_counts, uint64),
        "explicitBounds" | "explicit_bounds" => {
            decode_scalar_list(value, &mut p.explicit_bounds, double)
        }
        "exemplars" => decode_list(value, &mut p.exemplars, exemplar),
        "flags" => assign(&mut p.flags, uint32(value)),
        "min" => assign(&mut p.min, optional(value, double)),
        "max" => assign(&mut p.max, optional(value, double)),
        _ => Ok(()),
    })?;
    Ok(p)
}

fn exponential_histogram_point(value: &Json<'_>) -> R<ExponentialHistogramDataPoint> {
    let mut p = ExponentialHistogramDataPoint::default();
    for_each_member(value, |key, value| match key {
        "attributes" => decode_list(value, &mut p.attributes, attribute),
        "startTimeUnixNano" | "start_time_unix_nano" => {
            assign(&mut p.start_time_unix_nano, uint64(value))
        }
        "timeUnixNano" | "time_unix_nano" => assign(&mut p.time_unix_nano, uint64(value)),
        "count" => assign(&mut p.count, uint64(value)),
        "sum" => assign(&mut p.sum, optional(value, double)),
        "scale" => assign(&mut p.scale, int32(value)),
        "zeroCount" | "zero_count" => assign(&mut p.zero_count, uint64(value)),
        "positive" => assign(&mut p.positive, optional(value, buckets)),
        "negative" => assign(&mut p.negative, optional(value, buckets)),
        "flags" => assign(&mut p.flags, uint32(value)),
        "exemplars" => decode_list(value, &mut p.exemplars, exemplar),
        "min" => assign(&mut p.min, optional(value, double)),
        "max" => assign(&mut p.max, optional(value, double)),
        "zeroThreshold" | "zero_threshold" => assign(&mut p.zero_threshold, double(value)),
        _ => Ok(()),
    })?;
    Ok(p)
}

fn buckets(value: &Json<'_>) -> R<exponential_histogram_data_point::Buckets> {
    let mut b = exponential_histogram_data_point::Buckets::default();
    for_each_member(value, |key, value| match key {
        "offset" => assign(&mut b.offset, int32(value)),
        "bucketCounts" | "bucket_counts" => decode_scalar_list(value, &mut b.bucket_counts, uint64),
        _ => Ok(()),
    })?;
    Ok(b)
}

fn summary_point(value: &Json<'_>) -> R<SummaryDataPoint> {
    let mut p = SummaryDataPoint::default();
    for_each_member(value, |key, value| match key {
        "attributes" => decode_list(value, &mut p.attributes, attribute),
        "startTimeUnixNano" | "start_time_unix_nano" => {
            assign(&mut p.start_time_unix_nano, uint64(value))
        }
        "timeUnixNano" | "time_unix_nano" => assign(&mut p.time_unix_nano, uint64(value)),
        "count" => assign(&mut p.count, uint64(value)),
        "sum" => assign(&mut p.sum, double(value)),
        "quantileValues" | "quantile_values" => {
            decode_list(value, &mut p.quantile_values, value_at_quantile)
        }
        "flags" => assign(&mut p.flags, uint32(value)),
        _ => Ok(()),
    })?;
    Ok(p)
}

fn value_at_quantile(value: &Json<'_>) -> R<summary_data_point::ValueAtQuantile> {
    let mut q = summary_data_point::ValueAtQuantile::default();
    for_each_member(value, |key, value| match key {
        "quantile" => assign(&mut q.quantile, double(value)),
        "value" => assign(&mut q.value, double(value)),
        _ => Ok(()),
    })?;
    Ok(q)
}

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

fn resource_logs(value: &Json<'_>) -> R<ResourceLogs> {
    let mut rl = ResourceLogs::default();
    for_each_member(value, |key, value| match key {
        "resource" => assign(&mut rl.resource, optional(value, resource)),
        "scopeLogs" | "scope_logs" => decode_list(value, &mut rl.scope_logs, scope_logs),
        "schemaUrl" | "schema_url" => assign(&mut rl.schema_url, string(value)),
        _ => Ok(()),
    })?;
    Ok(rl)
}

fn scope_logs(value: &Json<'_>) -> R<ScopeLogs> {
    let mut sl = ScopeLogs::default();
    for_each_member(value, |key, value| match key {
        "scope" => assign(&mut sl.scope, optional(value, scope)),
        "logRecords" | "log_records" => decode_list(value, &mut sl.log_records, log_record),
        "schemaUrl" | "schema_url" => assign(&mut sl.schema_url, string(value)),
        _ => Ok(()),
    })?;
    Ok(sl)
}

fn log_record(value: &Json<'_>) -> R<LogRecord> {
    let mut r = LogRecord::default();
    for_each_member(value, |key, value| match key {
        "timeUnixNano" | "time_unix_nano" => assign(&mut r.time_unix_nano, uint64(value)),
        "observedTimeUnixNano" | "observed_time_unix_nano" => {
            assign(&mut r.observed_time_unix_nano, uint64(value))
        }
        "severityNumber" | "severity_number" => assign(
            &mut r.severity_number,
            enumeration(value, "SeverityNumber", severity_number_from_name),
        ),
        "severityText" | "severity_text" => assign(&mut r.severity_text, string(value)),
        "body" => assign(&mut r.body, optional(value, |v| any_value(v, 1))),
        "attributes" => decode_list(value, &mut r.attributes, attribute),
        "droppedAttributesCount" | "dropped_attributes_count" => {
            assign(&mut r.dropped_attributes_count, uint32(value))
        }
        "flags" => assign(&mut r.flags, uint32(value)),
        "traceId" | "trace_id" => assign(&mut r.trace_id, hex_id(value, TRACE_ID_LEN)),
        "spanId" | "span_id" => assign(&mut r.span_id, hex_id(value, SPAN_ID_LEN)),
        "eventName" | "event_name" => assign(&mut r.event_name, string(value)),
        _ => Ok(()),
    })?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use std::fmt::Debug;

    // -----------------------------------------------------------------------------------------
    // Helpers
    // -----------------------------------------------------------------------------------------

    const SPAN_PATH: &str = "resourceSpans[0].scopeSpans[0].spans[0]";
    const LOG_PATH: &str = "resourceLogs[0].scopeLogs[0].logRecords[0]";
    const METRIC_PATH: &str = "resourceMetrics[0].scopeMetrics[0].metrics[0]";

    fn span_doc(fields: &str) -> String {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{fields}}}]}}]}}]}}"#)
    }

    fn log_doc(fields: &str) -> String {
        format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{{fields}}}]}}]}}]}}"#)
    }

    fn metric_doc(fields: &str) -> String {
        format!(r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{{fields}}}]}}]}}]}}"#)
    }

    /// Decodes a span given its members (without braces).
    fn decode_span(fields: &str) -> Result<Span, JsonError> {
        let mut req = decode_traces(span_doc(fields).as_bytes())?;
        Ok(req
            .resource_spans
            .remove(0)
            .scope_spans
            .remove(0)
            .spans
            .remove(0))
    }

    fn decode_log(fields: &str) -> Result<LogRecord, JsonError> {
        let mut req = decode_logs(log_doc(fields).as_bytes())?;
        Ok(req
            .resource_logs
            .remove(0)
            .scope_logs
            .remove(0)
            .log_records
            .remove(0))
    }

    fn decode_metric(fields: &str) -> Result<Metric, JsonError> {
        let mut req = decode_metrics(metric_doc(fields).as_bytes())?;
        Ok(req
            .resource_metrics
            .remove(0)
            .scope_metrics
            .remove(0)
            .metrics
            .remove(0))
    }

    /// Decodes a JSON AnyValue as a log body (`body` is then at `LOG_PATH.body`).
    fn decode_any(json: &str) -> Result<AnyValue, JsonError> {
        let record = decode_log(&format!(r#""body":{json}"#))?;
        Ok(record
            .body
            .unwrap_or_else(|| panic!("no body decoded from {json}")))
    }

    fn decode_gauge_point(fields: &str) -> Result<NumberDataPoint, JsonError> {
        let metric = decode_metric(&format!(r#""gauge":{{"dataPoints":[{{{fields}}}]}}"#))?;
        match metric.data {
            Some(metric::Data::Gauge(mut g)) => Ok(g.data_points.remove(0)),
            other => panic!("expected a gauge, got {other:?}"),
        }
    }

    fn decode_exp_point(fields: &str) -> Result<ExponentialHistogramDataPoint, JsonError> {
        let metric = decode_metric(&format!(
            r#""exponentialHistogram":{{"dataPoints":[{{{fields}}}]}}"#
        ))?;
        match metric.data {
            Some(metric::Data::ExponentialHistogram(mut h)) => Ok(h.data_points.remove(0)),
            other => panic!("expected an exponential histogram, got {other:?}"),
        }
    }

    fn decode_histogram_point(fields: &str) -> Result<HistogramDataPoint, JsonError> {
        let metric = decode_metric(&format!(r#""histogram":{{"dataPoints":[{{{fields}}}]}}"#))?;
        match metric.data {
            Some(metric::Data::Histogram(mut h)) => Ok(h.data_points.remove(0)),
            other => panic!("expected a histogram, got {other:?}"),
        }
    }

    #[track_caller]
    fn assert_err<T: Debug>(result: Result<T, JsonError>, path: &str, fragment: &str) {
        match result {
            Ok(v) => panic!("expected an error at {path:?} containing {fragment:?}, got Ok({v:?})"),
            Err(e) => {
                assert_eq!(e.path(), path, "wrong path in error: {e}");
                assert!(
                    e.message().contains(fragment),
                    "error {e:?} should contain {fragment:?}"
                );
            }
        }
    }

    /// Checks one table row: `want` is the expected value or a fragment of the expected error.
    #[track_caller]
    fn check<T: Debug + PartialEq>(
        input: &str,
        got: Result<T, JsonError>,
        want: &Result<T, &str>,
        path: &str,
    ) {
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(&got, want, "input {input}"),
            (Err(e), Err(fragment)) => {
                assert_eq!(e.path(), path, "input {input}: wrong path in {e}");
                assert!(
                    e.message().contains(fragment),
                    "input {input}: error {e:?} should contain {fragment:?}"
                );
            }
            (got, want) => panic!("input {input}: got {got:?}, want {want:?}"),
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
            .collect()
    }

    fn any(v: V) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    fn str_v(s: &str) -> V {
        V::StringValue(s.to_owned())
    }

    fn kv(key: &str, value: V) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(any(value)),
            ..Default::default()
        }
    }

    /// Rewrites every object key of a JSON document from lowerCamelCase to snake_case.
    fn to_snake_case(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let mut snake = String::new();
                        for c in k.chars() {
                            if c.is_ascii_uppercase() {
                                snake.push('_');
                                snake.push(c.to_ascii_lowercase());
                            } else {
                                snake.push(c);
                            }
                        }
                        (snake, to_snake_case(v))
                    })
                    .collect(),
            ),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(to_snake_case).collect())
            }
            other => other,
        }
    }

    /// Adds an unknown member holding every kind of JSON value to every object.
    fn add_unknown_fields(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut map: serde_json::Map<String, serde_json::Value> = map
                    .into_iter()
                    .map(|(k, v)| (k, add_unknown_fields(v)))
                    .collect();
                map.insert(
                    "zzUnknownField".to_owned(),
                    serde_json::json!({
                        "nested": [1, -2.5e3, "two", null, true, false, {"deep": [[{}]]}],
                        "traceId": "not hex at all",
                        "intValue": "not a number"
                    }),
                );
                map.insert("unknown_scalar".to_owned(), serde_json::json!(12.5));
                map.insert("unknownNull".to_owned(), serde_json::Value::Null);
                serde_json::Value::Object(map)
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(add_unknown_fields).collect())
            }
            other => other,
        }
    }

    fn rewrite(doc: &str, f: fn(serde_json::Value) -> serde_json::Value) -> String {
        let value: serde_json::Value = serde_json::from_str(doc).expect("test document is JSON");
        f(value).to_string()
    }

    /// Runs `f` on a thread with the default 2 MiB test stack, whatever RUST_MIN_STACK says.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(f)
            .expect("spawn test thread")
            .join()
            .expect("test thread panicked");
    }

    // -----------------------------------------------------------------------------------------
    // Realistic requests
    // -----------------------------------------------------------------------------------------

    const TRACES: &str = r#"{
      "resourceSpans": [{
        "resource": {
          "attributes": [
            {"key": "service.name", "value": {"stringValue": "checkout"}},
            {"key": "host.cpu.count", "value": {"intValue": "8"}},
            {"key": "process.pid", "value": {"intValue": 4242}}
          ],
          "droppedAttributesCount": 1,
          "entityRefs": [{"schemaUrl": "s", "type": "service", "idKeys": ["service.name"], "descriptionKeys": []}]
        },
        "scopeSpans": [{
          "scope": {
            "name": "io.opentelemetry.http",
            "version": "1.2.3",
            "attributes": [{"key": "scope.attr", "value": {"boolValue": true}}],
            "droppedAttributesCount": 2
          },
          "spans": [
            {
              "traceId": "5B8EFFF798038103D269B633813FC60C",
              "spanId": "EEE19B7EC3C1B174",
              "parentSpanId": "eee19b7ec3c1b173",
              "traceState": "rojo=00f067aa0ba902b7",
              "flags": 257,
              "name": "GET /api/cart",
              "kind": 2,
              "startTimeUnixNano": "1544712660000000000",
              "endTimeUnixNano": "1544712661000000000",
              "attributes": [
                {"key": "http.request.method", "value": {"stringValue": "GET"}},
                {"key": "http.response.status_code", "value": {"intValue": "200"}},
                {"key": "sampling.ratio", "value": {"doubleValue": 0.25}},
                {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 1}]}}},
                {"key": "payload", "value": {"bytesValue": "3q2+7w=="}},
                {"key": "empty", "value": {}}
              ],
              "droppedAttributesCount": 3,
              "events": [{
                "timeUnixNano": "1544712660500000000",
                "name": "cache.miss",
                "attributes": [{"key": "cache.key", "value": {"stringValue": "cart:42"}}],
                "droppedAttributesCount": 4
              }],
              "droppedEventsCount": 5,
              "links": [{
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "00f067aa0ba902b7",
                "traceState": "congo=t61rcWkgMzE",
                "attributes": [{"key": "link.kind", "value": {"stringValue": "follows"}}],
                "droppedAttributesCount": 6,
                "flags": 1
              }],
              "droppedLinksCount": 7,
              "status": {"code": "STATUS_CODE_ERROR", "message": "upstream timeout"}
            },
            {
              "traceId": "5b8efff798038103d269b633813fc60c",
              "spanId": "eee19b7ec3c1b175",
              "name": "SELECT cart",
              "kind": "SPAN_KIND_CLIENT",
              "startTimeUnixNano": 1544712660100000000,
              "endTimeUnixNano": 1544712660200000000,
              "status": {}
            }
          ],
          "schemaUrl": "https://opentelemetry.io/schemas/1.26.0"
        }],
        "schemaUrl": "https://opentelemetry.io/schemas/1.25.0"
      }]
    }"#;

    fn expected_traces() -> ExportTraceServiceRequest {
        let server_span = Span {
            trace_id: hex("5b8efff798038103d269b633813fc60c"),
            span_id: hex("eee19b7ec3c1b174"),
            parent_span_id: hex("eee19b7ec3c1b173"),
            trace_state: "rojo=00f067aa0ba902b7".to_owned(),
            flags: 257,
            name: "GET /api/cart".to_owned(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_544_712_660_000_000_000,
            end_time_unix_nano: 1_544_712_661_000_000_000,
            attributes: vec![
                kv("http.request.method", str_v("GET")),
                kv("http.response.status_code", V::IntValue(200)),
                kv("sampling.ratio", V::DoubleValue(0.25)),
                kv(
                    "tags",
                    V::ArrayValue(ArrayValue {
                        values: vec![any(str_v("a")), any(V::IntValue(1))],
                    }),
                ),
                kv("payload", V::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
                KeyValue {
                    key: "empty".to_owned(),
                    value: Some(AnyValue { value: None }),
                    ..Default::default()
                },
            ],
            dropped_attributes_count: 3,
            events: vec![span::Event {
                time_unix_nano: 1_544_712_660_500_000_000,
                name: "cache.miss".to_owned(),
                attributes: vec![kv("cache.key", str_v("cart:42"))],
                dropped_attributes_count: 4,
            }],
            dropped_events_count: 5,
            links: vec![span::Link {
                trace_id: hex("4bf92f3577b34da6a3ce929d0e0e4736"),
                span_id: hex("00f067aa0ba902b7"),
                trace_state: "congo=t61rcWkgMzE".to_owned(),
                attributes: vec![kv("link.kind", str_v("follows"))],
                dropped_attributes_count: 6,
                flags: 1,
            }],
            dropped_links_count: 7,
            status: Some(Status {
                message: "upstream timeout".to_owned(),
                code: status::StatusCode::Error as i32,
            }),
        };
        let client_span = Span {
            trace_id: hex("5b8efff798038103d269b633813fc60c"),
            span_id: hex("eee19b7ec3c1b175"),
            name: "SELECT cart".to_owned(),
            kind: span::SpanKind::Client as i32,
            start_time_unix_nano: 1_544_712_660_100_000_000,
            end_time_unix_nano: 1_544_712_660_200_000_000,
            status: Some(Status::default()),
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", str_v("checkout")),
                        kv("host.cpu.count", V::IntValue(8)),
                        kv("process.pid", V::IntValue(4242)),
                    ],
                    dropped_attributes_count: 1,
                    entity_refs: vec![EntityRef {
                        schema_url: "s".to_owned(),
                        r#type: "service".to_owned(),
                        id_keys: vec!["service.name".to_owned()],
                        description_keys: vec![],
                    }],
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "io.opentelemetry.http".to_owned(),
                        version: "1.2.3".to_owned(),
                        attributes: vec![kv("scope.attr", V::BoolValue(true))],
                        dropped_attributes_count: 2,
                    }),
                    spans: vec![server_span, client_span],
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.25.0".to_owned(),
            }],
        }
    }

    const METRICS: &str = r#"{
      "resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]},
        "scopeMetrics": [{
          "scope": {"name": "meter", "version": "0.1"},
          "metrics": [
            {
              "name": "cpu.utilization", "description": "CPU use", "unit": "1",
              "metadata": [{"key": "origin", "value": {"stringValue": "prometheus"}}],
              "gauge": {"dataPoints": [
                {"attributes": [{"key": "cpu", "value": {"intValue": "0"}}], "timeUnixNano": "1700000000000000000", "asDouble": 0.75},
                {"timeUnixNano": 1700000000000000000, "asInt": "3", "flags": 1}
              ]}
            },
            {
              "name": "http.requests", "unit": "{request}",
              "sum": {
                "aggregationTemporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
                "isMonotonic": true,
                "dataPoints": [{
                  "startTimeUnixNano": "1699999990000000000", "timeUnixNano": "1700000000000000000",
                  "asInt": 1024,
                  "exemplars": [{
                    "filteredAttributes": [{"key": "user", "value": {"stringValue": "u1"}}],
                    "timeUnixNano": "1699999995000000000",
                    "asInt": "7",
                    "spanId": "eee19b7ec3c1b174",
                    "traceId": "5b8efff798038103d269b633813fc60c"
                  }]
                }]
              }
            },
            {
              "name": "http.duration", "unit": "ms",
              "histogram": {
                "aggregationTemporality": 1,
                "dataPoints": [{
                  "startTimeUnixNano": "1699999990000000000", "timeUnixNano": "1700000000000000000",
                  "count": "10", "sum": 123.5,
                  "bucketCounts": ["1", 2, "3", 4],
                  "explicitBounds": [10, 50.5, "100"],
                  "min": 0.5, "max": 99,
                  "exemplars": [{"timeUnixNano": "1699999995000000000", "asDouble": 12.5}],
                  "flags": 0
                }]
              }
            },
            {
              "name": "rpc.latency",
              "exponentialHistogram": {
                "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA",
                "dataPoints": [{
                  "attributes": [{"key": "rpc.method", "value": {"stringValue": "Get"}}],
                  "startTimeUnixNano": "1699999990000000000", "timeUnixNano": "1700000000000000000",
                  "count": 6, "sum": 30, "scale": -2, "zeroCount": "1", "zeroThreshold": 0.001,
                  "positive": {"offset": 3, "bucketCounts": ["2", 3]},
                  "negative": {"offset": -1, "bucketCounts": [1]},
                  "min": -4, "max": 20, "flags": 1
                }]
              }
            },
            {
              "name": "gc.pause",
              "summary": {"dataPoints": [{
                "timeUnixNano": "1700000000000000000", "count": "3", "sum": 4.5,
                "quantileValues": [{"quantile": 0, "value": 0.5}, {"quantile": 0.5, "value": 1.5}, {"quantile": 1, "value": 2.5}]
              }]}
            }
          ],
          "schemaUrl": "https://opentelemetry.io/schemas/1.26.0"
        }]
      }]
    }"#;

    fn expected_metrics() -> ExportMetricsServiceRequest {
        const T0: u64 = 1_699_999_990_000_000_000;
        const T1: u64 = 1_700_000_000_000_000_000;
        let gauge = Metric {
            name: "cpu.utilization".to_owned(),
            description: "CPU use".to_owned(),
            unit: "1".to_owned(),
            metadata: vec![kv("origin", str_v("prometheus"))],
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![
                    NumberDataPoint {
                        attributes: vec![kv("cpu", V::IntValue(0))],
                        time_unix_nano: T1,
                        value: Some(number_data_point::Value::AsDouble(0.75)),
                        ..Default::default()
                    },
                    NumberDataPoint {
                        time_unix_nano: T1,
                        value: Some(number_data_point::Value::AsInt(3)),
                        flags: 1,
                        ..Default::default()
                    },
                ],
            })),
        };
        let sum = Metric {
            name: "http.requests".to_owned(),
            unit: "{request}".to_owned(),
            data: Some(metric::Data::Sum(Sum {
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
                data_points: vec![NumberDataPoint {
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    value: Some(number_data_point::Value::AsInt(1024)),
                    exemplars: vec![Exemplar {
                        filtered_attributes: vec![kv("user", str_v("u1"))],
                        time_unix_nano: 1_699_999_995_000_000_000,
                        value: Some(exemplar::Value::AsInt(7)),
                        span_id: hex("eee19b7ec3c1b174"),
                        trace_id: hex("5b8efff798038103d269b633813fc60c"),
                    }],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        };
        let histogram = Metric {
            name: "http.duration".to_owned(),
            unit: "ms".to_owned(),
            data: Some(metric::Data::Histogram(Histogram {
                aggregation_temporality: AggregationTemporality::Delta as i32,
                data_points: vec![HistogramDataPoint {
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 10,
                    sum: Some(123.5),
                    bucket_counts: vec![1, 2, 3, 4],
                    explicit_bounds: vec![10.0, 50.5, 100.0],
                    min: Some(0.5),
                    max: Some(99.0),
                    exemplars: vec![Exemplar {
                        time_unix_nano: 1_699_999_995_000_000_000,
                        value: Some(exemplar::Value::AsDouble(12.5)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        };
        let exponential = Metric {
            name: "rpc.latency".to_owned(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                aggregation_temporality: AggregationTemporality::Delta as i32,
                data_points: vec![ExponentialHistogramDataPoint {
                    attributes: vec![kv("rpc.method", str_v("Get"))],
                    start_time_unix_nano: T0,
                    time_unix_nano: T1,
                    count: 6,
                    sum: Some(30.0),
                    scale: -2,
                    zero_count: 1,
                    zero_threshold: 0.001,
                    positive: Some(exponential_histogram_data_point::Buckets {
                        offset: 3,
                        bucket_counts: vec![2, 3],
                    }),
                    negative: Some(exponential_histogram_data_point::Buckets {
                        offset: -1,
                        bucket_counts: vec![1],
                    }),
                    min: Some(-4.0),
                    max: Some(20.0),
                    flags: 1,
                    ..Default::default()
                }],
            })),
            ..Default::default()
        };
        let summary = Metric {
            name: "gc.pause".to_owned(),
            data: Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T1,
                    count: 3,
                    sum: 4.5,
                    quantile_values: [(0.0, 0.5), (0.5, 1.5), (1.0, 2.5)]
                        .into_iter()
                        .map(|(quantile, value)| summary_data_point::ValueAtQuantile {
                            quantile,
                            value,
                        })
                        .collect(),
                    ..Default::default()
                }],
            })),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", str_v("api"))],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "meter".to_owned(),
                        version: "0.1".to_owned(),
                        ..Default::default()
                    }),
                    metrics: vec![gauge, sum, histogram, exponential, summary],
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    const LOGS: &str = r#"{
      "resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "auth"}}]},
        "scopeLogs": [{
          "scope": {"name": "auth.logger"},
          "logRecords": [
            {
              "timeUnixNano": "1700000000000000000",
              "observedTimeUnixNano": "1700000000000000001",
              "severityNumber": "SEVERITY_NUMBER_INFO",
              "severityText": "INFO",
              "body": {"kvlistValue": {"values": [
                {"key": "msg", "value": {"stringValue": "user logged in"}},
                {"key": "user", "value": {"kvlistValue": {"values": [{"key": "id", "value": {"intValue": "42"}}]}}}
              ]}},
              "attributes": [{"key": "login.method", "value": {"stringValue": "password"}}],
              "droppedAttributesCount": 1,
              "flags": 1,
              "traceId": "5b8efff798038103d269b633813fc60c",
              "spanId": "eee19b7ec3c1b174",
              "eventName": "user.login"
            },
            {"timeUnixNano": 1700000000000000002, "severityNumber": 17, "severityText": "ERROR", "body": {"stringValue": "boom"}}
          ],
          "schemaUrl": "https://opentelemetry.io/schemas/1.26.0"
        }]
      }]
    }"#;

    fn expected_logs() -> ExportLogsServiceRequest {
        let login = LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000,
            observed_time_unix_nano: 1_700_000_000_000_000_001,
            severity_number: SeverityNumber::Info as i32,
            severity_text: "INFO".to_owned(),
            body: Some(any(V::KvlistValue(KeyValueList {
                values: vec![
                    kv("msg", str_v("user logged in")),
                    kv(
                        "user",
                        V::KvlistValue(KeyValueList {
                            values: vec![kv("id", V::IntValue(42))],
                        }),
                    ),
                ],
            }))),
            attributes: vec![kv("login.method", str_v("password"))],
            dropped_attributes_count: 1,
            flags: 1,
            trace_id: hex("5b8efff798038103d269b633813fc60c"),
            span_id: hex("eee19b7ec3c1b174"),
            event_name: "user.login".to_owned(),
        };
        let error = LogRecord {
            time_unix_nano: 1_700_000_000_000_000_002,
            severity_number: SeverityNumber::Error as i32,
            severity_text: "ERROR".to_owned(),
            body: Some(any(str_v("boom"))),
            ..Default::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", str_v("auth"))],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "auth.logger".to_owned(),
                        ..Default::default()
                    }),
                    log_records: vec![login, error],
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".to_owned(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[test]
    fn decodes_a_realistic_trace_request() {
        let req = decode_traces(TRACES.as_bytes()).expect("valid traces");
        assert_eq!(req, expected_traces());
    }

    #[test]
    fn decodes_a_metrics_request_with_every_metric_type() {
        let req = decode_metrics(METRICS.as_bytes()).expect("valid metrics");
        assert_eq!(req, expected_metrics());
    }

    #[test]
    fn decodes_a_logs_request() {
        let req = decode_logs(LOGS.as_bytes()).expect("valid logs");
        assert_eq!(req, expected_logs());
    }

    #[test]
    fn snake_case_names_decode_like_camel_case() {
        let traces = rewrite(TRACES, to_snake_case);
        assert!(traces.contains("\"resource_spans\"") && traces.contains("\"trace_id\""));
        assert_eq!(
            decode_traces(traces.as_bytes()).expect("snake traces"),
            expected_traces()
        );
        let metrics = rewrite(METRICS, to_snake_case);
        assert!(metrics.contains("\"exponential_histogram\""));
        assert_eq!(
            decode_metrics(metrics.as_bytes()).expect("snake metrics"),
            expected_metrics()
        );
        let logs = rewrite(LOGS, to_snake_case);
        assert!(logs.contains("\"kvlist_value\"") && logs.contains("\"observed_time_unix_nano\""));
        assert_eq!(
            decode_logs(logs.as_bytes()).expect("snake logs"),
            expected_logs()
        );
    }

    #[test]
    fn both_name_styles_mix_in_one_document() {
        let span = decode_span(
            r#""trace_id":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
               "start_time_unix_nano":"5","endTimeUnixNano":6,"dropped_attributes_count":2"#,
        )
        .expect("mixed names");
        assert_eq!(span.trace_id, hex("5b8efff798038103d269b633813fc60c"));
        assert_eq!(span.span_id, hex("eee19b7ec3c1b174"));
        assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (5, 6));
        assert_eq!(span.dropped_attributes_count, 2);
    }

    #[test]
    fn unknown_fields_are_skipped_at_every_level() {
        let traces = rewrite(TRACES, add_unknown_fields);
        assert_eq!(
            decode_traces(traces.as_bytes()).expect("traces with unknown fields"),
            expected_traces()
        );
        let metrics = rewrite(METRICS, add_unknown_fields);
        assert_eq!(
            decode_metrics(metrics.as_bytes()).expect("metrics with unknown fields"),
            expected_metrics()
        );
        let logs = rewrite(LOGS, add_unknown_fields);
        assert_eq!(
            decode_logs(logs.as_bytes()).expect("logs with unknown fields"),
            expected_logs()
        );
        // Profiling-only members and misspelled names are unknown too.
        let value = decode_any(r#"{"stringValueStrindex": 3, "StringValue": "x"}"#)
            .expect("unknown AnyValue members");
        assert_eq!(value, AnyValue { value: None });
    }

    #[test]
    fn round_trips_through_protobuf() {
        fn round_trip<M: prost::Message + Default + PartialEq + Debug>(decoded: M) {
            let bytes = decoded.encode_to_vec();
            let back = M::decode(bytes.as_slice()).expect("protobuf decodes");
            assert_eq!(back, decoded);
            assert_eq!(back.encode_to_vec(), bytes);
        }
        round_trip(decode_traces(TRACES.as_bytes()).expect("traces"));
        round_trip(decode_metrics(METRICS.as_bytes()).expect("metrics"));
        round_trip(decode_logs(LOGS.as_bytes()).expect("logs"));
        // The deepest accepted nesting round-trips.
        let deep = log_doc(&format!(
            r#""body":{}"#,
            nested_array_value(MAX_ANY_VALUE_DEPTH)
        ));
        round_trip(decode_logs(deep.as_bytes()).expect("deep"));
    }

    // -----------------------------------------------------------------------------------------
    // Scalars
    // -----------------------------------------------------------------------------------------

    #[test]
    fn uint64_fields_accept_integers_and_decimal_strings() {
        let cases: &[(&str, Result<u64, &str>)] = &[
            ("0", Ok(0)),
            (r#""0""#, Ok(0)),
            ("1544712660000000000", Ok(1_544_712_660_000_000_000)),
            (r#""1544712660000000000""#, Ok(1_544_712_660_000_000_000)),
            ("18446744073709551615", Ok(u64::MAX)),
            (r#""18446744073709551615""#, Ok(u64::MAX)),
            (r#""007""#, Ok(7)),
            ("null", Ok(0)),
            ("18446744073709551616", Err("out of range for uint64")),
            (r#""18446744073709551616""#, Err("out of range for uint64")),
            ("-1", Err("out of range for uint64 (negative)")),
            (r#""-1""#, Err("out of range for uint64 (negative)")),
            (r#""+1""#, Err("invalid uint64")),
            ("1.5", Err("expected an integer for uint64")),
            ("1.0", Err("expected an integer for uint64")),
            ("1e3", Err("expected an integer for uint64")),
            (r#""1.5""#, Err("invalid uint64")),
            (r#""1e3""#, Err("invalid uint64")),
            (r#""""#, Err("invalid uint64")),
            (r#"" 1""#, Err("invalid uint64")),
            (r#""0x10""#, Err("invalid uint64")),
            (r#""1_000""#, Err("invalid uint64")),
            (
                "true",
                Err("expected an integer (number or decimal string), got a boolean"),
            ),
            ("[1]", Err("got an array")),
            ("{}", Err("got an object")),
        ];
        for (json, want) in cases {
            let got = decode_span(&format!(r#""startTimeUnixNano":{json}"#))
                .map(|s| s.start_time_unix_nano);
            check(json, got, want, &format!("{SPAN_PATH}.startTimeUnixNano"));
        }
        // The other uint64 fields share the reader; spot-check a few of them as strings.
        let p =
            decode_histogram_point(r#""count":"12","bucketCounts":["1","18446744073709551615"]"#)
                .expect("histogram");
        assert_eq!((p.count, p.bucket_counts), (12, vec![1, u64::MAX]));
        assert_err(
            decode_histogram_point(r#""bucketCounts":[1,"x"]"#),
            &format!("{METRIC_PATH}.histogram.dataPoints[0].bucketCounts[1]"),
            "invalid uint64",
        );
        let p = decode_exp_point(r#""zeroCount":"9","positive":{"bucketCounts":["4",5]}"#)
            .expect("exponential histogram");
        assert_eq!(p.zero_count, 9);
        assert_eq!(p.positive.map(|b| b.bucket_counts), Some(vec![4, 5]));
    }

    #[test]
    fn int64_fields_accept_integers_and_decimal_strings() {
        let cases: &[(&str, Result<i64, &str>)] = &[
            ("0", Ok(0)),
            ("-0", Ok(0)),
            (r#""-0""#, Ok(0)),
            ("42", Ok(42)),
            (r#""42""#, Ok(42)),
            (r#""+42""#, Ok(42)),
            ("-42", Ok(-42)),
            (r#""-42""#, Ok(-42)),
            ("9223372036854775807", Ok(i64::MAX)),
            (r#""9223372036854775807""#, Ok(i64::MAX)),
            ("-9223372036854775808", Ok(i64::MIN)),
            (r#""-9223372036854775808""#, Ok(i64::MIN)),
            ("9223372036854775808", Err("out of range for int64")),
            (r#""9223372036854775808""#, Err("out of range for int64")),
            ("-9223372036854775809", Err("out of range for int64")),
            ("1.5", Err("expected an integer for int64")),
            ("-1e2", Err("expected an integer for int64")),
            (r#""1e2""#, Err("invalid int64")),
            (r#""""#, Err("invalid int64")),
            (r#""forty-two""#, Err("invalid int64")),
            ("false", Err("got a boolean")),
        ];
        for (json, want) in cases {
            let got = decode_any(&format!(r#"{{"intValue":{json}}}"#)).map(|v| match v.value {
                Some(V::IntValue(i)) => i,
                other => panic!("{json}: expected an int, got {other:?}"),
            });
            check(json, got, want, &format!("{LOG_PATH}.body.intValue"));
        }
        let p = decode_gauge_point(r#""asInt":"-9223372036854775808""#).expect("asInt");
        assert_eq!(p.value, Some(number_data_point::Value::AsInt(i64::MIN)));
    }

    #[test]
    fn int32_and_uint32_fields_accept_integers_and_decimal_strings() {
        let unsigned: &[(&str, Result<u32, &str>)] = &[
            ("7", Ok(7)),
            (r#""7""#, Ok(7)),
            ("4294967295", Ok(u32::MAX)),
            ("null", Ok(0)),
            ("4294967296", Err("out of range for uint32")),
            ("-1", Err("out of range for uint32 (negative)")),
            ("1.5", Err("expected an integer for uint32")),
            (r#""abc""#, Err("invalid uint32")),
        ];
        for (json, want) in unsigned {
            for field in [
                "droppedAttributesCount",
                "droppedEventsCount",
                "droppedLinksCount",
                "flags",
            ] {
                let got = decode_span(&format!(r#""{field}":{json}"#)).map(|s| match field {
                    "droppedAttributesCount" => s.dropped_attributes_count,
                    "droppedEventsCount" => s.dropped_events_count,
                    "droppedLinksCount" => s.dropped_links_count,
                    _ => s.flags,
                });
                check(json, got, want, &format!("{SPAN_PATH}.{field}"));
            }
            let got = decode_log(&format!(r#""flags":{json}"#)).map(|r| r.flags);
            check(json, got, want, &format!("{LOG_PATH}.flags"));
            let got = decode_gauge_point(&format!(r#""flags":{json}"#)).map(|p| p.flags);
            check(
                json,
                got,
                want,
                &format!("{METRIC_PATH}.gauge.dataPoints[0].flags"),
            );
        }
        let signed: &[(&str, Result<i32, &str>)] = &[
            ("-2", Ok(-2)),
            (r#""-2""#, Ok(-2)),
            ("20", Ok(20)),
            ("2147483647", Ok(i32::MAX)),
            ("-2147483648", Ok(i32::MIN)),
            ("2147483648", Err("out of range for int32")),
            (r#""-2147483649""#, Err("out of range for int32")),
            ("0.5", Err("expected an integer for int32")),
        ];
        for (json, want) in signed {
            let got = decode_exp_point(&format!(r#""scale":{json}"#)).map(|p| p.scale);
            check(
                json,
                got,
                want,
                &format!("{METRIC_PATH}.exponentialHistogram.dataPoints[0].scale"),
            );
            let got = decode_exp_point(&format!(r#""negative":{{"offset":{json}}}"#))
                .map(|p| p.negative.map(|b| b.offset).unwrap_or_default());
            check(
                json,
                got,
                want,
                &format!("{METRIC_PATH}.exponentialHistogram.dataPoints[0].negative.offset"),
            );
        }
    }

    #[test]
    fn doubles_accept_numbers_strings_and_special_values() {
        let cases: &[(&str, Result<f64, &str>)] = &[
            ("1.5", Ok(1.5)),
            (r#""1.5""#, Ok(1.5)),
            ("0", Ok(0.0)),
            ("-2", Ok(-2.0)),
            ("1e3", Ok(1000.0)),
            ("-1.25E-2", Ok(-0.0125)),
            (r#""1e3""#, Ok(1000.0)),
            ("1.7976931348623157e308", Ok(f64::MAX)),
            ("5e-324", Ok(5e-324)),
            ("18446744073709551616", Ok(18_446_744_073_709_551_616.0)),
            (r#""Infinity""#, Ok(f64::INFINITY)),
            (r#""-Infinity""#, Ok(f64::NEG_INFINITY)),
            (r#""NaN""#, Ok(f64::NAN)),
            ("null", Ok(0.0)),
            ("1e400", Err("out of range for double")),
            ("-1e400", Err("out of range for double")),
            (r#""1e400""#, Err("out of range for double")),
            (r#""abc""#, Err("invalid double")),
            (r#""""#, Err("invalid double")),
            (r#"" 1""#, Err("invalid double")),
            ("true", Err("expected a number, got a boolean")),
            ("[]", Err("expected a number, got an array")),
        ];
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        for (json, want) in cases {
            let got = decode_gauge_point(&format!(r#""asDouble":{json}"#)).map(|p| match p.value {
                Some(number_data_point::Value::AsDouble(d)) => d,
                None => 0.0, // "null": the oneof stays unset
                other => panic!("{json}: expected a double, got {other:?}"),
            });
            match (got, want) {
                (Ok(got), Ok(want)) => assert!(same(got, *want), "{json}: got {got}, want {want}"),
                (got, want) => check(
                    json,
                    got,
                    want,
                    &format!("{METRIC_PATH}.gauge.dataPoints[0].asDouble"),
                ),
            }
            let got = decode_any(&format!(r#"{{"doubleValue":{json}}}"#)).map(|v| match v.value {
                Some(V::DoubleValue(d)) => d,
                None => 0.0,
                other => panic!("{json}: expected a double, got {other:?}"),
            });
            match (got, want) {
                (Ok(got), Ok(want)) => assert!(same(got, *want), "{json}: got {got}, want {want}"),
                (got, want) => check(json, got, want, &format!("{LOG_PATH}.body.doubleValue")),
            }
        }
        // The other double fields.
        let p = decode_histogram_point(
            r#""sum":"NaN","min":"-Infinity","max":"Infinity","explicitBounds":[1,"2.5","Infinity"]"#,
        )
        .expect("histogram doubles");
        assert!(p.sum.is_some_and(f64::is_nan));
        assert_eq!(
            (p.min, p.max),
            (Some(f64::NEG_INFINITY), Some(f64::INFINITY))
        );
        assert_eq!(p.explicit_bounds, vec![1.0, 2.5, f64::INFINITY]);
        let p = decode_exp_point(r#""zeroThreshold":"1e-9""#).expect("zero threshold");
        assert_eq!(p.zero_threshold, 1e-9);
    }

    #[test]
    fn optional_doubles_distinguish_absent_from_zero() {
        type SumMinMax = (Option<f64>, Option<f64>, Option<f64>);
        let cases: &[(&str, SumMinMax)] = &[
            ("", (None, None, None)),
            (r#""sum":null,"min":null,"max":null"#, (None, None, None)),
            (
                r#""sum":0,"min":0,"max":0"#,
                (Some(0.0), Some(0.0), Some(0.0)),
            ),
            (
                r#""sum":"7","min":-1.5,"max":"2""#,
                (Some(7.0), Some(-1.5), Some(2.0)),
            ),
        ];
        for (fields, want) in cases {
            let p = decode_histogram_point(fields).expect("histogram point");
            assert_eq!((p.sum, p.min, p.max), *want, "{fields}");
            let p = decode_exp_point(fields).expect("exponential histogram point");
            assert_eq!((p.sum, p.min, p.max), *want, "{fields}");
        }
    }

    #[test]
    fn enums_accept_names_and_integers() {
        let kinds: &[(&str, Result<i32, &str>)] = &[
            (r#""SPAN_KIND_UNSPECIFIED""#, Ok(0)),
            (r#""SPAN_KIND_INTERNAL""#, Ok(1)),
            (r#""SPAN_KIND_SERVER""#, Ok(2)),
            (r#""SPAN_KIND_CLIENT""#, Ok(3)),
            (r#""SPAN_KIND_PRODUCER""#, Ok(4)),
            (r#""SPAN_KIND_CONSUMER""#, Ok(5)),
            ("2", Ok(2)),
            ("42", Ok(42)),
            ("-1", Ok(-1)),
            ("null", Ok(0)),
            (
                r#""SPAN_KIND_BOGUS""#,
                Err(r#"unknown SpanKind value "SPAN_KIND_BOGUS""#),
            ),
            (r#""span_kind_server""#, Err("unknown SpanKind value")),
            (r#""SERVER""#, Err("unknown SpanKind value")),
            (r#""2""#, Err("unknown SpanKind value")),
            (r#""""#, Err("unknown SpanKind value")),
            ("2.0", Err("expected an integer for int32")),
            ("2147483648", Err("out of range for int32")),
            ("true", Err("expected an enum name or integer")),
        ];
        for (json, want) in kinds {
            let got = decode_span(&format!(r#""kind":{json}"#)).map(|s| s.kind);
            check(json, got, want, &format!("{SPAN_PATH}.kind"));
        }

        let codes: &[(&str, Result<i32, &str>)] = &[
            (r#""STATUS_CODE_UNSET""#, Ok(0)),
            (r#""STATUS_CODE_OK""#, Ok(1)),
            (r#""STATUS_CODE_ERROR""#, Ok(2)),
            ("2", Ok(2)),
            ("7", Ok(7)),
            (r#""ERROR""#, Err("unknown StatusCode value")),
        ];
        for (json, want) in codes {
            let got = decode_span(&format!(r#""status":{{"code":{json}}}"#))
                .map(|s| s.status.map(|st| st.code).unwrap_or(-100));
            check(json, got, want, &format!("{SPAN_PATH}.status.code"));
        }

        for number in 0..=24 {
            let Ok(severity) = SeverityNumber::try_from(number) else {
                panic!("severity {number} exists");
            };
            let by_name = decode_log(&format!(r#""severityNumber":"{}""#, severity.as_str_name()))
                .expect("severity by name");
            let by_number =
                decode_log(&format!(r#""severity_number":{number}"#)).expect("severity by number");
            assert_eq!(
                (by_name.severity_number, by_number.severity_number),
                (number, number)
            );
        }
        assert_err(
            decode_log(r#""severityNumber":"INFO""#),
            &format!("{LOG_PATH}.severityNumber"),
            "unknown SeverityNumber value",
        );

        let temporalities: &[(&str, Result<i32, &str>)] = &[
            (r#""AGGREGATION_TEMPORALITY_UNSPECIFIED""#, Ok(0)),
            (r#""AGGREGATION_TEMPORALITY_DELTA""#, Ok(1)),
            (r#""AGGREGATION_TEMPORALITY_CUMULATIVE""#, Ok(2)),
            ("2", Ok(2)),
            ("3", Ok(3)),
            (
                r#""CUMULATIVE""#,
                Err("unknown AggregationTemporality value"),
            ),
        ];
        for (json, want) in temporalities {
            for kind in ["sum", "histogram", "exponentialHistogram"] {
                let got = decode_metric(&format!(
                    r#""{kind}":{{"aggregationTemporality":{json}}}"#
                ))
                .map(|m| match m.data {
                    Some(metric::Data::Sum(s)) => s.aggregation_temporality,
                    Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
                    Some(metric::Data::ExponentialHistogram(h)) => h.aggregation_temporality,
                    other => panic!("unexpected {other:?}"),
                });
                check(
                    json,
                    got,
                    want,
                    &format!("{METRIC_PATH}.{kind}.aggregationTemporality"),
                );
            }
        }
    }

    #[test]
    fn booleans_and_strings_are_typed() {
        let cases: &[(&str, Result<bool, &str>)] = &[
            ("true", Ok(true)),
            ("false", Ok(false)),
            ("null", Ok(false)),
            (r#""true""#, Err("expected a boolean, got a string")),
            ("1", Err("expected a boolean, got a number")),
        ];
        for (json, want) in cases {
            let got = decode_metric(&format!(r#""sum":{{"isMonotonic":{json}}}"#)).map(|m| match m
                .data
            {
                Some(metric::Data::Sum(s)) => s.is_monotonic,
                other => panic!("unexpected {other:?}"),
            });
            check(json, got, want, &format!("{METRIC_PATH}.sum.isMonotonic"));
        }
        let strings: &[(&str, Result<&str, &str>)] = &[
            (r#""name""#, Ok("name")),
            ("null", Ok("")),
            ("1", Err("expected a string, got a number")),
            ("true", Err("expected a string, got a boolean")),
            (r#"["a"]"#, Err("expected a string, got an array")),
            (r#"{"a":1}"#, Err("expected a string, got an object")),
        ];
        for (json, want) in strings {
            let want = want.map(str::to_owned);
            let got = decode_span(&format!(r#""name":{json}"#)).map(|s| s.name);
            check(json, got, &want, &format!("{SPAN_PATH}.name"));
        }
    }

    #[test]
    fn json_string_escapes_are_decoded() {
        let cases: &[(&str, &str)] = &[
            (r#""plain""#, "plain"),
            (r#""a\"b""#, "a\"b"),
            (r#""back\\slash\/""#, "back\\slash/"),
            (r#""\b\f\n\r\t""#, "\u{8}\u{c}\n\r\t"),
            (r#""\u00e9\u00E9""#, "éé"),
            (r#""\u0000""#, "\0"),
            (r#""\ud83d\ude00""#, "😀"),
            (r#""\ud83d""#, "\u{fffd}"),
            (r#""\ude00x""#, "\u{fffd}x"),
            (r#""\ud83d\u0041""#, "\u{fffd}A"),
            (r#""\ud83dA""#, "\u{fffd}A"),
            (r#""héllo 世界 😀""#, "héllo 世界 😀"),
            (r#""mixed é\n""#, "mixed é\n"),
        ];
        for (json, want) in cases {
            let span = decode_span(&format!(r#""name":{json}"#)).expect(json);
            assert_eq!(span.name, *want, "{json}");
        }
        // Escaped keys are still recognized.
        let span = decode_span(r#""n\u0061me":"escaped key""#).expect("escaped key");
        assert_eq!(span.name, "escaped key");
    }

    // -----------------------------------------------------------------------------------------
    // Ids
    // -----------------------------------------------------------------------------------------

    #[test]
    fn trace_and_span_ids_are_hex() {
        let trace_ids: &[(&str, Result<Vec<u8>, &str>)] = &[
            (
                r#""5b8efff798038103d269b633813fc60c""#,
                Ok(hex("5b8efff798038103d269b633813fc60c")),
            ),
            (
                r#""5B8EFFF798038103D269B633813FC60C""#,
                Ok(hex("5b8efff798038103d269b633813fc60c")),
            ),
            (
                r#""5b8EFFF798038103d269B633813fc60C""#,
                Ok(hex("5b8efff798038103d269b633813fc60c")),
            ),
            (r#""00000000000000000000000000000000""#, Ok(vec![0; 16])),
            (r#""""#, Ok(vec![])),
            ("null", Ok(vec![])),
            (r#""abcdef""#, Err("hex id must be 16 bytes, got 3")),
            (
                r#""5b8efff798038103d269b633813fc60c00""#,
                Err("hex id must be 16 bytes, got 17"),
            ),
            (
                r#""5b8efff798038103d269b633813fc60""#,
                Err("odd number of hex digits (31)"),
            ),
            (
                r#""W47/95gDgQPSabYzgT/GDA==""#,
                Err("hex id must be 16 bytes, got 12"),
            ),
            (
                r#""zb8efff798038103d269b633813fc60c""#,
                Err("invalid hex id"),
            ),
            (
                r#""5b8efff798038103d269b633813fc6 c""#,
                Err("invalid hex id"),
            ),
            (
                r#""5b8efff798038103d269b633813fc6é""#,
                Err("invalid hex id"),
            ),
            ("123", Err("expected a hex string, got a number")),
            ("[]", Err("expected a hex string, got an array")),
        ];
        for (json, want) in trace_ids {
            let got = decode_span(&format!(r#""traceId":{json}"#)).map(|s| s.trace_id);
            check(json, got, want, &format!("{SPAN_PATH}.traceId"));
        }
        let span_ids: &[(&str, Result<Vec<u8>, &str>)] = &[
            (r#""eee19b7ec3c1b174""#, Ok(hex("eee19b7ec3c1b174"))),
            (r#""EEE19B7EC3C1B174""#, Ok(hex("eee19b7ec3c1b174"))),
            (r#""""#, Ok(vec![])),
            (
                r#""5b8efff798038103d269b633813fc60c""#,
                Err("hex id must be 8 bytes, got 16"),
            ),
            (r#""eee19b7e""#, Err("hex id must be 8 bytes, got 4")),
            (r#""eee19b7ec3c1b17g""#, Err("invalid hex id")),
        ];
        for (json, want) in span_ids {
            let got = decode_span(&format!(r#""spanId":{json}"#)).map(|s| s.span_id);
            check(json, got, want, &format!("{SPAN_PATH}.spanId"));
            let got = decode_span(&format!(r#""parentSpanId":{json}"#)).map(|s| s.parent_span_id);
            check(json, got, want, &format!("{SPAN_PATH}.parentSpanId"));
        }
    }

    #[test]
    fn every_id_field_is_validated() {
        let trace_id = "5b8efff798038103d269b633813fc60c";
        let span_id = "eee19b7ec3c1b174";
        // (document with the id at $ID, path of the id, id length)
        type IdReader = fn(&str) -> Result<Vec<u8>, JsonError>;
        let cases: Vec<(String, String, usize, IdReader)> = vec![
            (
                span_doc(r#""links":[{"traceId":"$ID"}]"#),
                format!("{SPAN_PATH}.links[0].traceId"),
                16,
                |doc| {
                    decode_traces(doc.as_bytes()).map(|r| {
                        r.resource_spans[0].scope_spans[0].spans[0].links[0]
                            .trace_id
                            .clone()
                    })
                },
            ),
            (
                span_doc(r#""links":[{"span_id":"$ID"}]"#),
                format!("{SPAN_PATH}.links[0].span_id"),
                8,
                |doc| {
                    decode_traces(doc.as_bytes()).map(|r| {
                        r.resource_spans[0].scope_spans[0].spans[0].links[0]
                            .span_id
                            .clone()
                    })
                },
            ),
            (
                log_doc(r#""traceId":"$ID""#),
                format!("{LOG_PATH}.traceId"),
                16,
                |doc| {
                    decode_logs(doc.as_bytes()).map(|r| {
                        r.resource_logs[0].scope_logs[0].log_records[0]
                            .trace_id
                            .clone()
                    })
                },
            ),
            (
                log_doc(r#""spanId":"$ID""#),
                format!("{LOG_PATH}.spanId"),
                8,
                |doc| {
                    decode_logs(doc.as_bytes()).map(|r| {
                        r.resource_logs[0].scope_logs[0].log_records[0]
                            .span_id
                            .clone()
                    })
                },
            ),
            (
                metric_doc(r#""gauge":{"dataPoints":[{"exemplars":[{"traceId":"$ID"}]}]}"#),
                format!("{METRIC_PATH}.gauge.dataPoints[0].exemplars[0].traceId"),
                16,
                |doc| {
                    decode_metrics(doc.as_bytes()).map(|r| {
                        match &r.resource_metrics[0].scope_metrics[0].metrics[0].data {
                            Some(metric::Data::Gauge(g)) => {
                                g.data_points[0].exemplars[0].trace_id.clone()
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    })
                },
            ),
            (
                metric_doc(r#""histogram":{"dataPoints":[{"exemplars":[{"spanId":"$ID"}]}]}"#),
                format!("{METRIC_PATH}.histogram.dataPoints[0].exemplars[0].spanId"),
                8,
                |doc| {
                    decode_metrics(doc.as_bytes()).map(|r| {
                        match &r.resource_metrics[0].scope_metrics[0].metrics[0].data {
                            Some(metric::Data::Histogram(h)) => {
                                h.data_points[0].exemplars[0].span_id.clone()
                            }
                            other => panic!("unexpected {other:?}"),
                        }
                    })
                },
            ),
        ];
        for (doc, path, len, decode) in cases {
            let (good, bad) = if len == 16 {
                (trace_id, span_id)
            } else {
                (span_id, trace_id)
            };
            assert_eq!(
                decode(&doc.replace("$ID", good)).expect(&path),
                hex(good),
                "{path}"
            );
            assert_eq!(
                decode(&doc.replace("$ID", "")).expect(&path),
                Vec::<u8>::new(),
                "{path}"
            );
            let err = decode(&doc.replace("$ID", bad)).expect_err(&path);
            assert_eq!(err.path(), path);
            assert_eq!(
                err.message(),
                format!("hex id must be {len} bytes, got {}", bad.len() / 2)
            );
        }
    }

    #[test]
    fn errors_name_the_json_path() {
        let doc =
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{},{"traceId":"abcdef"}]}]}]}"#;
        let err = decode_traces(doc.as_bytes()).expect_err("bad trace id");
        assert_eq!(
            err.to_string(),
            "resourceSpans[0].scopeSpans[0].spans[3].traceId: hex id must be 16 bytes, got 3"
        );
        assert_eq!(
            err.path(),
            "resourceSpans[0].scopeSpans[0].spans[3].traceId"
        );
        assert_eq!(err.message(), "hex id must be 16 bytes, got 3");

        // Keys are reported as they were spelled.
        let doc = r#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"abcdef"}]}]}]}"#;
        let err = decode_traces(doc.as_bytes()).expect_err("bad trace id");
        assert_eq!(
            err.path(),
            "resource_spans[0].scope_spans[0].spans[0].trace_id"
        );

        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"x"}}]}}]}"#,
                "resourceSpans[0].resource.attributes[0].value.intValue",
                "invalid int64",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"scope":{"droppedAttributesCount":-1}}]}]}"#,
                "resourceSpans[0].scopeSpans[0].scope.droppedAttributesCount",
                "negative",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"events":[{},{"attributes":[{"value":{"arrayValue":{"values":[{},{"boolValue":1}]}}}]}]}]}]}]}"#,
                "resourceSpans[0].scopeSpans[0].spans[0].events[1].attributes[0].value.arrayValue.values[1].boolValue",
                "expected a boolean",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"links":[{"flags":"x"}]}]}]}]}"#,
                "resourceSpans[0].scopeSpans[0].spans[0].links[0].flags",
                "invalid uint32",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":{"code":"NOPE"}}]}]}]}"#,
                "resourceSpans[0].scopeSpans[0].spans[0].status.code",
                "unknown StatusCode value \"NOPE\"",
            ),
            (
                r#"{"resourceSpans":[1]}"#,
                "resourceSpans[0]",
                "expected an object, got a number",
            ),
            (r#"{"resourceSpans":{}}"#, "resourceSpans", "expected an array, got an object"),
        ];
        for (doc, path, fragment) in cases {
            assert_err(decode_traces(doc.as_bytes()), path, fragment);
        }

        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"summary":{"dataPoints":[{"quantileValues":[{"quantile":"x"}]}]}}]}]}]}"#,
                "resourceMetrics[0].scopeMetrics[0].metrics[0].summary.dataPoints[0].quantileValues[0].quantile",
                "invalid double",
            ),
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponential_histogram":{"data_points":[{"positive":{"bucket_counts":[1,-2]}}]}}]}]}]}"#,
                "resourceMetrics[0].scopeMetrics[0].metrics[0].exponential_histogram.data_points[0].positive.bucket_counts[1]",
                "negative",
            ),
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"exemplars":[{"filteredAttributes":[{"key":1}]}]}]}}]}]}]}"#,
                "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0].filteredAttributes[0].key",
                "expected a string",
            ),
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"metadata":[{"value":{"bytesValue":"%%%"}}]}]}]}]}"#,
                "resourceMetrics[0].scopeMetrics[0].metrics[0].metadata[0].value.bytesValue",
                "invalid base64",
            ),
        ];
        for (doc, path, fragment) in cases {
            assert_err(decode_metrics(doc.as_bytes()), path, fragment);
        }
        assert_err(
            decode_logs(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"observedTimeUnixNano":1.5}]}]}]}"#),
            "resourceLogs[0].scopeLogs[0].logRecords[0].observedTimeUnixNano",
            "expected an integer",
        );
    }

    // -----------------------------------------------------------------------------------------
    // AnyValue
    // -----------------------------------------------------------------------------------------

    #[test]
    fn any_value_variants() {
        let cases: Vec<(&str, Option<V>)> = vec![
            ("{}", None),
            (r#"{"stringValue":"hi"}"#, Some(str_v("hi"))),
            (r#"{"string_value":"hi"}"#, Some(str_v("hi"))),
            (r#"{"stringValue":""}"#, Some(str_v(""))),
            (r#"{"boolValue":true}"#, Some(V::BoolValue(true))),
            (r#"{"bool_value":false}"#, Some(V::BoolValue(false))),
            (r#"{"intValue":"-5"}"#, Some(V::IntValue(-5))),
            (r#"{"int_value":5}"#, Some(V::IntValue(5))),
            (r#"{"doubleValue":2.5}"#, Some(V::DoubleValue(2.5))),
            (
                r#"{"double_value":"-Infinity"}"#,
                Some(V::DoubleValue(f64::NEG_INFINITY)),
            ),
            (
                r#"{"bytesValue":"aGVsbG8="}"#,
                Some(V::BytesValue(b"hello".to_vec())),
            ),
            (
                r#"{"bytes_value":"aGVsbG8"}"#,
                Some(V::BytesValue(b"hello".to_vec())),
            ),
            (
                r#"{"bytesValue":"+/8="}"#,
                Some(V::BytesValue(vec![0xfb, 0xff])),
            ),
            (
                r#"{"bytesValue":"+/8"}"#,
                Some(V::BytesValue(vec![0xfb, 0xff])),
            ),
            (r#"{"bytesValue":""}"#, Some(V::BytesValue(vec![]))),
            (
                r#"{"arrayValue":{}}"#,
                Some(V::ArrayValue(ArrayValue::default())),
            ),
            (
                r#"{"array_value":{"values":[]}}"#,
                Some(V::ArrayValue(ArrayValue::default())),
            ),
            (
                r#"{"arrayValue":{"values":[{"stringValue":"a"},{},{"arrayValue":{"values":[{"boolValue":true}]}}]}}"#,
                Some(V::ArrayValue(ArrayValue {
                    values: vec![
                        any(str_v("a")),
                        AnyValue { value: None },
                        any(V::ArrayValue(ArrayValue {
                            values: vec![any(V::BoolValue(true))],
                        })),
                    ],
                })),
            ),
            (
                r#"{"kvlistValue":{"values":[{"key":"k","value":{"intValue":1}},{"key":"no value"},{"key":"null","value":null}]}}"#,
                Some(V::KvlistValue(KeyValueList {
                    values: vec![
                        kv("k", V::IntValue(1)),
                        KeyValue {
                            key: "no value".to_owned(),
                            ..Default::default()
                        },
                        KeyValue {
                            key: "null".to_owned(),
                            ..Default::default()
                        },
                    ],
                })),
            ),
            (
                r#"{"kvlist_value":{"values":null}}"#,
                Some(V::KvlistValue(KeyValueList::default())),
            ),
            // null members are unset, so they do not conflict
            (r#"{"stringValue":null}"#, None),
            (r#"{"stringValue":null,"intValue":3}"#, Some(V::IntValue(3))),
            (r#"{"intValue":3,"arrayValue":null}"#, Some(V::IntValue(3))),
            // the same member twice: the last wins
            (r#"{"stringValue":"a","stringValue":"b"}"#, Some(str_v("b"))),
            (
                r#"{"stringValue":"a","string_value":"b"}"#,
                Some(str_v("b")),
            ),
            (
                r#"{"other":{"stringValue":"x"},"boolValue":true}"#,
                Some(V::BoolValue(true)),
            ),
        ];
        for (json, want) in cases {
            let got = decode_any(json).expect(json);
            assert_eq!(got, AnyValue { value: want }, "{json}");
        }
        let record = decode_log(r#""body":null"#).expect("null body");
        assert_eq!(record.body, None);
        let record = decode_log(r#""body":{}"#).expect("empty body");
        assert_eq!(record.body, Some(AnyValue { value: None }));
    }

    #[test]
    fn any_value_errors() {
        let body = format!("{LOG_PATH}.body");
        let cases: Vec<(&str, String, &str)> = vec![
            (
                r#"{"stringValue":"a","intValue":1}"#,
                format!("{body}.intValue"),
                "cannot both be set",
            ),
            (
                r#"{"arrayValue":{},"kvlistValue":{}}"#,
                format!("{body}.kvlistValue"),
                "only one member of a oneof",
            ),
            (
                r#"{"bytesValue":"aGVsbG8=","string_value":"x"}"#,
                format!("{body}.string_value"),
                "cannot both be set",
            ),
            (
                r#"{"boolValue":"true"}"#,
                format!("{body}.boolValue"),
                "expected a boolean, got a string",
            ),
            (
                r#"{"stringValue":1}"#,
                format!("{body}.stringValue"),
                "expected a string, got a number",
            ),
            (
                r#"{"intValue":1.5}"#,
                format!("{body}.intValue"),
                "expected an integer",
            ),
            (
                r#"{"bytesValue":"not base64!"}"#,
                format!("{body}.bytesValue"),
                "invalid base64",
            ),
            (
                r#"{"bytesValue":"-_8="}"#,
                format!("{body}.bytesValue"),
                "invalid base64",
            ),
            (
                r#"{"bytesValue":"aGVsbG8=="}"#,
                format!("{body}.bytesValue"),
                "invalid base64",
            ),
            (
                r#"{"bytesValue":"a"}"#,
                format!("{body}.bytesValue"),
                "invalid base64",
            ),
            (
                r#"{"bytesValue":[104]}"#,
                format!("{body}.bytesValue"),
                "expected a base64 string",
            ),
            (
                r#"{"arrayValue":[]}"#,
                format!("{body}.arrayValue"),
                "expected an object, got an array",
            ),
            (
                r#"{"arrayValue":{"values":{}}}"#,
                format!("{body}.arrayValue.values"),
                "expected an array",
            ),
            (
                r#"{"arrayValue":{"values":[1]}}"#,
                format!("{body}.arrayValue.values[0]"),
                "expected an object",
            ),
            (
                r#"{"kvlistValue":{"values":[{"key":1}]}}"#,
                format!("{body}.kvlistValue.values[0].key"),
                "expected a string",
            ),
            (
                r#"{"kvlistValue":{"values":[{"key":"k","value":"v"}]}}"#,
                format!("{body}.kvlistValue.values[0].value"),
                "expected an object, got a string",
            ),
            (
                r#""hello""#,
                body.clone(),
                "expected an object, got a string",
            ),
            ("[]", body.clone(), "expected an object, got an array"),
        ];
        for (json, path, fragment) in cases {
            assert_err(decode_any(json), &path, fragment);
        }
    }

    /// `levels` AnyValues nested through `arrayValue`, innermost an int.
    fn nested_array_value(levels: usize) -> String {
        let wraps = levels.saturating_sub(1);
        let mut s = r#"{"arrayValue":{"values":["#.repeat(wraps);
        s.push_str(r#"{"intValue":1}"#);
        s.push_str(&"]}}".repeat(wraps));
        s
    }

    /// `levels` AnyValues nested through `kvlistValue`, innermost an int.
    fn nested_kvlist_value(levels: usize) -> String {
        let wraps = levels.saturating_sub(1);
        let mut s = r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(wraps);
        s.push_str(r#"{"intValue":1}"#);
        s.push_str(&"}]}}".repeat(wraps));
        s
    }

    fn any_value_depth(value: &AnyValue) -> usize {
        match &value.value {
            Some(V::ArrayValue(a)) => 1 + a.values.iter().map(any_value_depth).max().unwrap_or(0),
            Some(V::KvlistValue(l)) => {
                1 + l
                    .values
                    .iter()
                    .filter_map(|kv| kv.value.as_ref())
                    .map(any_value_depth)
                    .max()
                    .unwrap_or(0)
            }
            _ => 1,
        }
    }

    #[test]
    fn any_value_nesting_is_capped_at_16_levels() {
        let limit = MAX_ANY_VALUE_DEPTH;
        assert_eq!(limit, 16);

        // Array nesting in a log body.
        let ok = decode_any(&nested_array_value(limit)).expect("16 levels of arrayValue");
        assert_eq!(any_value_depth(&ok), limit);
        let err = decode_any(&nested_array_value(limit + 1)).expect_err("17 levels of arrayValue");
        assert_eq!(err.message(), "AnyValue nested deeper than 16 levels");
        let expected_path = format!("{LOG_PATH}.body{}", ".arrayValue.values[0]".repeat(limit));
        assert_eq!(err.path(), expected_path);

        // Kvlist nesting at the deepest attribute position there is (exemplar filteredAttributes).
        let exemplar_doc = |levels: usize| {
            metric_doc(&format!(
                r#""sum":{{"dataPoints":[{{"exemplars":[{{"filteredAttributes":[{{"key":"a","value":{}}}]}}]}}]}}"#,
                nested_kvlist_value(levels)
            ))
        };
        let req = decode_metrics(exemplar_doc(limit).as_bytes()).expect("16 levels of kvlistValue");
        // The deepest accepted JSON re-encodes to protobuf the scanner (and prost) accept.
        let encoded = prost::Message::encode_to_vec(&req);
        crate::otlp::scan::scan(crate::otlp::scan::Msg::ExportMetrics, &encoded)
            .expect("re-encoded deepest JSON passes the protobuf scanner");
        let Some(metric::Data::Sum(sum)) =
            &req.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!("expected a sum");
        };
        let value = sum.data_points[0].exemplars[0].filtered_attributes[0]
            .value
            .as_ref();
        assert_eq!(value.map(any_value_depth), Some(limit));
        let err = decode_metrics(exemplar_doc(limit + 1).as_bytes()).expect_err("17 levels");
        assert_eq!(err.message(), "AnyValue nested deeper than 16 levels");

        // Mixed nesting in a span event attribute.
        let mixed = |levels: usize| {
            let mut value = String::from(r#"{"boolValue":true}"#);
            for level in 1..levels {
                value = if level % 2 == 0 {
                    format!(r#"{{"arrayValue":{{"values":[{value}]}}}}"#)
                } else {
                    format!(r#"{{"kvlistValue":{{"values":[{{"key":"k","value":{value}}}]}}}}"#)
                };
            }
            span_doc(&format!(
                r#""events":[{{"attributes":[{{"key":"a","value":{value}}}]}}]"#
            ))
        };
        decode_traces(mixed(limit).as_bytes()).expect("16 mixed levels");
        let err = decode_traces(mixed(limit + 1).as_bytes()).expect_err("17 mixed levels");
        assert_eq!(err.message(), "AnyValue nested deeper than 16 levels");
    }

    #[test]
    fn json_nesting_is_capped() {
        // An unknown member holding `depth - 1` nested arrays: `depth` levels in all.
        let doc = |depth: usize| {
            format!(
                r#"{{"resourceSpans":[],"x":{}{}}}"#,
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        };
        decode_traces(doc(MAX_JSON_DEPTH).as_bytes()).expect("MAX_JSON_DEPTH levels");
        let err = decode_traces(doc(MAX_JSON_DEPTH + 1).as_bytes()).expect_err("one more level");
        assert_eq!(err.path(), "");
        assert!(
            err.message().contains("nested deeper than 300 levels"),
            "{err}"
        );
    }

    #[test]
    fn very_deep_nesting_fails_fast_on_a_small_stack() {
        on_small_stack(|| {
            const DEPTH: usize = 10_000;
            let started = std::time::Instant::now();
            let arrays = format!(r#"{{"x":{}{}}}"#, "[".repeat(DEPTH), "]".repeat(DEPTH));
            let objects = format!("{}1{}", r#"{"a":"#.repeat(DEPTH), "}".repeat(DEPTH));
            let unclosed = "[".repeat(100_000);
            let any_arrays = log_doc(&format!(r#""body":{}"#, nested_array_value(DEPTH)));
            let any_kvlists = span_doc(&format!(
                r#""attributes":[{{"key":"deep","value":{}}}]"#,
                nested_kvlist_value(DEPTH)
            ));
            for doc in [&arrays, &objects, &unclosed] {
                assert!(decode_traces(doc.as_bytes()).is_err());
                assert!(decode_metrics(doc.as_bytes()).is_err());
                assert!(decode_logs(doc.as_bytes()).is_err());
            }
            let err = decode_logs(any_arrays.as_bytes()).expect_err("10,000 levels of arrayValue");
            assert!(err.message().contains("nested deeper"), "{err}");
            let err =
                decode_traces(any_kvlists.as_bytes()).expect_err("10,000 levels of kvlistValue");
            assert!(err.message().contains("nested deeper"), "{err}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "deep inputs took {:?}",
                started.elapsed()
            );
        });
    }

    // -----------------------------------------------------------------------------------------
    // Documents
    // -----------------------------------------------------------------------------------------

    #[test]
    fn garbage_is_rejected() {
        let cases: &[&[u8]] = &[
            b"",
            b"   ",
            b"null",
            b"true",
            b"42",
            b"\"resourceSpans\"",
            b"[]",
            b"[{}]",
            b"{",
            b"}",
            b"{\"resourceSpans\":[}",
            b"{\"resourceSpans\":[],}",
            b"{,}",
            b"{\"a\" 1}",
            b"{\"a\":}",
            b"{'a':1}",
            b"{a:1}",
            b"{\"a\":1} x",
            b"{\"a\":1}{}",
            b"{\"a\":01}",
            b"{\"a\":-}",
            b"{\"a\":1.}",
            b"{\"a\":.5}",
            b"{\"a\":+1}",
            b"{\"a\":1e}",
            b"{\"a\":NaN}",
            b"{\"a\":Infinity}",
            b"{\"a\":tru}",
            b"{\"a\":nulll}",
            b"{\"a\":\"unterminated}",
            b"{\"a\":\"bad \\x escape\"}",
            b"{\"a\":\"\\u12\"}",
            b"{\"a\":\"\\u12G4\"}",
            b"{\"a\":\"raw\ttab\"}",
            b"{\"a\":\"raw\nnewline\"}",
            b"{\"a\":[1,]}",
            b"{\"a\":[,1]}",
            b"{\"a\":[1 2]}",
            b"{/*comment*/}",
            b"\xef\xbb\xbf{}",
            b"\xff\xfe\x00",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"\xc3\"}",
            b"\x00",
            b"<html>nope</html>",
            b"resourceSpans=1",
        ];
        for body in cases {
            let shown = String::from_utf8_lossy(body);
            for result in [
                decode_traces(body).map(|_| ()),
                decode_metrics(body).map(|_| ()),
                decode_logs(body).map(|_| ()),
            ] {
                let err = result.expect_err(&shown);
                assert_eq!(err.path(), "", "{shown}: {err}");
                assert!(!err.message().is_empty());
            }
        }
        let err = decode_traces(b"{\"a\":\"\xff\"}").expect_err("invalid UTF-8");
        assert_eq!(err.to_string(), "invalid UTF-8 in request body at byte 6");
        let err = decode_traces(b"[]").expect_err("array");
        assert_eq!(
            err.to_string(),
            "the request must be a JSON object, got an array"
        );
        let err = decode_traces(b"{\n  \"a\": tru\n}").expect_err("bad literal");
        assert_eq!(
            err.to_string(),
            "invalid JSON at line 2, column 8: expected a JSON value"
        );
        let err = decode_traces(b"{\"a\":").expect_err("truncated");
        assert!(err.to_string().contains("unexpected end of input"), "{err}");
    }

    #[test]
    fn wrong_shapes_are_rejected() {
        let traces: &[(&str, &str, &str)] = &[
            (
                r#"{"resourceSpans":"x"}"#,
                "resourceSpans",
                "expected an array, got a string",
            ),
            (
                r#"{"resourceSpans":[[]]}"#,
                "resourceSpans[0]",
                "expected an object, got an array",
            ),
            (
                r#"{"resourceSpans":[{"resource":[]}]}"#,
                "resourceSpans[0].resource",
                "expected an object",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":{}}]}"#,
                "resourceSpans[0].scopeSpans",
                "expected an array",
            ),
            (
                r#"{"resourceSpans":[{"schemaUrl":1}]}"#,
                "resourceSpans[0].schemaUrl",
                "expected a string",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"scope":"x"}]}]}"#,
                "resourceSpans[0].scopeSpans[0].scope",
                "expected an object",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":{}}]}]}]}"#,
                "resourceSpans[0].scopeSpans[0].spans[0].attributes",
                "expected an array",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":[]}]}]}]}"#,
                "resourceSpans[0].scopeSpans[0].spans[0].status",
                "expected an object",
            ),
            (
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"events":"x"}]}]}]}"#,
                "resourceSpans[0].scopeSpans[0].spans[0].events",
                "expected an array",
            ),
            (
                r#"{"resourceSpans":[{"resource":{"entityRefs":[{"idKeys":[1]}]}}]}"#,
                "resourceSpans[0].resource.entityRefs[0].idKeys[0]",
                "expected a string",
            ),
        ];
        for (doc, path, fragment) in traces {
            assert_err(decode_traces(doc.as_bytes()), path, fragment);
        }
        let metrics: &[(&str, &str, &str)] = &[
            (r#""gauge":[]"#, "gauge", "expected an object"),
            (
                r#""sum":{"dataPoints":{}}"#,
                "sum.dataPoints",
                "expected an array",
            ),
            (
                r#""histogram":{"dataPoints":[{"bucketCounts":[1,null]}]}"#,
                "histogram.dataPoints[0].bucketCounts[1]",
                "null is not allowed",
            ),
            (
                r#""histogram":{"dataPoints":[{"explicitBounds":"1,2"}]}"#,
                "histogram.dataPoints[0].explicitBounds",
                "expected an array",
            ),
            (
                r#""exponentialHistogram":{"dataPoints":[{"positive":[1]}]}"#,
                "exponentialHistogram.dataPoints[0].positive",
                "expected an object",
            ),
            (
                r#""summary":{"dataPoints":[{"quantileValues":[[]]}]}"#,
                "summary.dataPoints[0].quantileValues[0]",
                "expected an object",
            ),
            (r#""metadata":{}"#, "metadata", "expected an array"),
        ];
        for (fields, path, fragment) in metrics {
            assert_err(
                decode_metric(fields),
                &format!("{METRIC_PATH}.{path}"),
                fragment,
            );
        }
        assert_err(
            decode_log(r#""body":[{"stringValue":"x"}]"#),
            &format!("{LOG_PATH}.body"),
            "expected an object, got an array",
        );
    }

    #[test]
    fn oneof_conflicts_are_rejected() {
        let cases: &[(&str, &str)] = &[
            (r#""gauge":{},"sum":{}"#, "sum"),
            (r#""summary":{},"histogram":{}"#, "histogram"),
            (r#""exponential_histogram":{},"gauge":{}"#, "gauge"),
            (
                r#""gauge":{"dataPoints":[{"asDouble":1,"asInt":1}]}"#,
                "gauge.dataPoints[0].asInt",
            ),
            (
                r#""sum":{"dataPoints":[{"as_int":1,"asDouble":1}]}"#,
                "sum.dataPoints[0].asDouble",
            ),
            (
                r#""gauge":{"dataPoints":[{"exemplars":[{"asInt":1,"asDouble":1}]}]}"#,
                "gauge.dataPoints[0].exemplars[0].asDouble",
            ),
        ];
        for (fields, path) in cases {
            assert_err(
                decode_metric(fields),
                &format!("{METRIC_PATH}.{path}"),
                "cannot both be set",
            );
        }
        // null members are unset and the same member twice is not a conflict.
        let m = decode_metric(r#""gauge":null,"sum":{"isMonotonic":true},"sum":{}"#).expect("sum");
        assert_eq!(m.data, Some(metric::Data::Sum(Sum::default())));
        let p = decode_gauge_point(r#""asInt":null,"asDouble":2,"as_double":3"#).expect("point");
        assert_eq!(p.value, Some(number_data_point::Value::AsDouble(3.0)));
        let m = decode_metric(r#""name":"no data""#).expect("no data");
        assert_eq!(m.data, None);
    }

    #[test]
    fn null_means_default() {
        let span = decode_span(
            r#""traceId":null,"spanId":null,"traceState":null,"parentSpanId":null,"flags":null,
               "name":null,"kind":null,"startTimeUnixNano":null,"endTimeUnixNano":null,
               "attributes":null,"droppedAttributesCount":null,"events":null,
               "droppedEventsCount":null,"links":null,"droppedLinksCount":null,"status":null"#,
        )
        .expect("all-null span");
        assert_eq!(span, Span::default());

        let req = decode_traces(br#"{"resourceSpans":null}"#).expect("null list");
        assert_eq!(req, ExportTraceServiceRequest::default());
        let req = decode_traces(
            br#"{"resourceSpans":[{"resource":null,"schemaUrl":null,"scopeSpans":[{"scope":null,"spans":[null]}]}]}"#,
        )
        .expect("null members");
        assert_eq!(
            req.resource_spans,
            vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default()],
                    ..Default::default()
                }],
                ..Default::default()
            }]
        );

        let record = decode_log(
            r#""timeUnixNano":null,"observedTimeUnixNano":null,"severityNumber":null,
               "severityText":null,"body":null,"attributes":null,"droppedAttributesCount":null,
               "flags":null,"traceId":null,"spanId":null,"eventName":null"#,
        )
        .expect("all-null log record");
        assert_eq!(record, LogRecord::default());

        let p = decode_exp_point(
            r#""attributes":null,"startTimeUnixNano":null,"timeUnixNano":null,"count":null,
               "sum":null,"scale":null,"zeroCount":null,"positive":null,"negative":null,
               "flags":null,"exemplars":null,"min":null,"max":null,"zeroThreshold":null"#,
        )
        .expect("all-null exponential histogram point");
        assert_eq!(p, ExponentialHistogramDataPoint::default());

        let m = decode_metric(
            r#""name":null,"description":null,"unit":null,"metadata":null,"summary":{"dataPoints":[{"count":null,"sum":null,"quantileValues":[{"quantile":null,"value":null}]}]}"#,
        )
        .expect("null metric members");
        assert_eq!(
            m.data,
            Some(metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    quantile_values: vec![summary_data_point::ValueAtQuantile::default()],
                    ..Default::default()
                }],
            }))
        );
    }

    #[test]
    fn repeated_keys_behave_as_in_the_go_collector() {
        let span = decode_span(
            r#""name":"first","name":"second",
               "attributes":[{"key":"a","value":{"intValue":1}}],
               "attributes":[{"key":"b","value":{"intValue":2}}],
               "traceId":"00000000000000000000000000000001","trace_id":"00000000000000000000000000000002""#,
        )
        .expect("repeated keys");
        assert_eq!(span.name, "second");
        assert_eq!(
            span.attributes,
            vec![kv("a", V::IntValue(1)), kv("b", V::IntValue(2))]
        );
        assert_eq!(span.trace_id, hex("00000000000000000000000000000002"));
    }

    #[test]
    fn whitespace_and_empty_documents() {
        let req = decode_traces(b" \n\t{ \"resourceSpans\" : [ ] }\r\n ").expect("whitespace");
        assert_eq!(req, ExportTraceServiceRequest::default());
        assert_eq!(
            decode_metrics(b"{}").expect("empty"),
            ExportMetricsServiceRequest::default()
        );
        assert_eq!(
            decode_logs(b"{}").expect("empty"),
            ExportLogsServiceRequest::default()
        );
        // Another signal's payload is a valid, empty request, as in the Go collector.
        assert_eq!(
            decode_logs(TRACES.as_bytes()).expect("traces as logs"),
            ExportLogsServiceRequest::default()
        );
    }

    // -----------------------------------------------------------------------------------------
    // encode_status
    // -----------------------------------------------------------------------------------------

    #[test]
    fn encode_status_writes_protojson() {
        let cases: &[(i32, &str, &str)] = &[
            (14, "unavailable", r#"{"code":14,"message":"unavailable"}"#),
            (3, "", r#"{"code":3}"#),
            (0, "", r#"{"code":0}"#),
            (-1, "x", r#"{"code":-1,"message":"x"}"#),
            (
                3,
                "bad \"json\" \\ at\nline\t2 \u{1} é 😀",
                r#"{"code":3,"message":"bad \"json\" \\ at\nline\t2 \u0001 é 😀"}"#,
            ),
        ];
        for (code, message, want) in cases {
            let bytes = encode_status(*code, message);
            assert_eq!(String::from_utf8(bytes.clone()).expect("UTF-8"), *want);
            let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
            assert_eq!(parsed["code"], serde_json::json!(code));
            if message.is_empty() {
                assert!(parsed.get("message").is_none());
            } else {
                assert_eq!(parsed["message"], serde_json::json!(message));
            }
        }
        let every_control: String = (0u8..0x20).map(char::from).collect();
        let bytes = encode_status(13, &every_control);
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(parsed["message"], serde_json::json!(every_control));
    }

    #[test]
    fn error_display() {
        let err = decode_traces(b"{").expect_err("truncated");
        assert_eq!(err.path(), "");
        assert_eq!(err.to_string(), err.message());
        let err = decode_span(r#""kind":"X""#).expect_err("bad kind");
        assert_eq!(
            err.to_string(),
            format!("{}: {}", err.path(), err.message())
        );
        // Long input is shortened in messages.
        let long = "A".repeat(10_000);
        let err = decode_span(&format!(r#""kind":"{long}""#)).expect_err("long kind");
        assert!(err.message().len() < 200, "{}", err.message());
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    fn spans_body(n: usize, span: &str) -> Vec<u8> {
        let mut body = b"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[".to_vec();
        for i in 0..n {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(span.as_bytes());
        }
        body.extend_from_slice(b"]}]}]}");
        body
    }

    #[test]
    fn floods_of_tiny_items_are_refused_and_real_spans_pass() {
        let flood = spans_body(4 * 1024 * 1024 / 3, "{}");
        let e = decode_traces(&flood).unwrap_err();
        assert!(
            e.message().contains("too large once decoded"),
            "{}",
            e.message()
        );
        // The same size of realistic spans decodes.
        let span = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /api/users","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","attributes":[{"key":"http.method","value":{"stringValue":"GET"}},{"key":"http.status_code","value":{"intValue":"200"}}]}"#;
        let real = spans_body(4 * 1024 * 1024 / span.len(), span);
        let req = decode_traces(&real).unwrap();
        let used = decode_budget(real.len()) - BUDGET.with(|b| b.get());
        // Realistic OTLP/JSON (parse tree + messages) needs ~4× its size, half the
        // budget's per-byte allowance.
        assert!(
            used < real.len() * 5,
            "used {used} for {} bytes",
            real.len()
        );
        eprintln!(
            "decode budget used by {} bytes of realistic spans: {used}",
            real.len()
        );
        assert_eq!(
            req.resource_spans[0].scope_spans[0].spans.len(),
            4 * 1024 * 1024 / span.len()
        );
        // The budget is per request: the next small request is not affected.
        assert!(decode_traces(&spans_body(3, "{}")).is_ok());
    }
}
