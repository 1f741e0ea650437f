//! Contexts, the paths each one exposes ([`Field`]), and reading and writing
//! them on one telemetry item ([`Item`] for reading, [`ItemMut`] for editing).

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, Span, Status};

use super::value::Value;
use crate::otlp::SignalKind;

/// An OTTL context: the level of telemetry a statement or condition runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Resource,
    Scope,
    Span,
    SpanEvent,
    Metric,
    DataPoint,
    Log,
}

impl Context {
    /// Parses a context name (`instrumentation_scope` is the older `scope`).
    pub fn parse(name: &str) -> Option<Context> {
        Some(match name {
            "resource" => Context::Resource,
            "scope" | "instrumentation_scope" => Context::Scope,
            "span" => Context::Span,
            "spanevent" => Context::SpanEvent,
            "metric" => Context::Metric,
            "datapoint" => Context::DataPoint,
            "log" => Context::Log,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Context::Resource => "resource",
            Context::Scope => "scope",
            Context::Span => "span",
            Context::SpanEvent => "spanevent",
            Context::Metric => "metric",
            Context::DataPoint => "datapoint",
            Context::Log => "log",
        }
    }

    /// 0 for resource, 1 for scope, and so on down.
    pub fn depth(self) -> u8 {
        match self {
            Context::Resource => 0,
            Context::Scope => 1,
            Context::Span | Context::Metric | Context::Log => 2,
            Context::SpanEvent | Context::DataPoint => 3,
        }
    }

    fn parent(self) -> Option<Context> {
        match self {
            Context::Resource => None,
            Context::Scope => Some(Context::Resource),
            Context::Span | Context::Metric | Context::Log => Some(Context::Scope),
            Context::SpanEvent => Some(Context::Span),
            Context::DataPoint => Some(Context::Metric),
        }
    }

    /// Whether an item of this context can see paths of `other` (itself or a parent).
    pub fn reaches(self, other: Context) -> bool {
        let mut c = Some(self);
        while let Some(x) = c {
            if x == other {
                return true;
            }
            c = x.parent();
        }
        false
    }

    /// Whether this context exists for `signal`.
    pub fn of_signal(self, signal: SignalKind) -> bool {
        match self {
            Context::Resource | Context::Scope => true,
            Context::Span | Context::SpanEvent => signal == SignalKind::Traces,
            Context::Metric | Context::DataPoint => signal == SignalKind::Metrics,
            Context::Log => signal == SignalKind::Logs,
        }
    }
}

/// A path field (before any `[key]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ResourceAttributes,
    ResourceDroppedAttributesCount,
    ScopeName,
    ScopeVersion,
    ScopeAttributes,
    ScopeDroppedAttributesCount,
    SpanName,
    SpanKind,
    SpanTraceId,
    SpanTraceIdString,
    SpanId,
    SpanIdString,
    SpanParentSpanId,
    SpanParentSpanIdString,
    SpanTraceState,
    SpanStatusCode,
    SpanStatusMessage,
    SpanStartTimeUnixNano,
    SpanEndTimeUnixNano,
    SpanAttributes,
    SpanDroppedAttributesCount,
    SpanDroppedEventsCount,
    SpanDroppedLinksCount,
    SpanFlags,
    EventName,
    EventTimeUnixNano,
    EventAttributes,
    EventDroppedAttributesCount,
    MetricName,
    MetricDescription,
    MetricUnit,
    MetricType,
    MetricAggregationTemporality,
    MetricIsMonotonic,
    PointAttributes,
    PointStartTimeUnixNano,
    PointTimeUnixNano,
    PointValueDouble,
    PointValueInt,
    PointCount,
    PointSum,
    PointFlags,
    LogBody,
    LogBodyString,
    LogAttributes,
    LogSeverityNumber,
    LogSeverityText,
    LogTimeUnixNano,
    LogObservedTimeUnixNano,
    LogTraceId,
    LogTraceIdString,
    LogSpanId,
    LogSpanIdString,
    LogFlags,
    LogDroppedAttributesCount,
    LogEventName,
}

impl Field {
    /// The field named by `segs` (after the context prefix) in `ctx`.
    pub fn resolve(ctx: Context, segs: &[&str]) -> Option<Field> {
        use Field::*;
        Some(match (ctx, segs) {
            (Context::Resource, ["attributes"]) => ResourceAttributes,
            (Context::Resource, ["dropped_attributes_count"]) => ResourceDroppedAttributesCount,
            (Context::Scope, ["name"]) => ScopeName,
            (Context::Scope, ["version"]) => ScopeVersion,
            (Context::Scope, ["attributes"]) => ScopeAttributes,
            (Context::Scope, ["dropped_attributes_count"]) => ScopeDroppedAttributesCount,
            (Context::Span, ["name"]) => SpanName,
            (Context::Span, ["kind"]) => SpanKind,
            (Context::Span, ["trace_id"]) => SpanTraceId,
            (Context::Span, ["trace_id", "string"]) => SpanTraceIdString,
            (Context::Span, ["span_id"]) => SpanId,
            (Context::Span, ["span_id", "string"]) => SpanIdString,
            (Context::Span, ["parent_span_id"]) => SpanParentSpanId,
            (Context::Span, ["parent_span_id", "string"]) => SpanParentSpanIdString,
            (Context::Span, ["trace_state"]) => SpanTraceState,
            (Context::Span, ["status", "code"]) => SpanStatusCode,
            (Context::Span, ["status", "message"]) => SpanStatusMessage,
            (Context::Span, ["start_time_unix_nano"]) => SpanStartTimeUnixNano,
            (Context::Span, ["end_time_unix_nano"]) => SpanEndTimeUnixNano,
            (Context::Span, ["attributes"]) => SpanAttributes,
            (Context::Span, ["dropped_attributes_count"]) => SpanDroppedAttributesCount,
            (Context::Span, ["dropped_events_count"]) => SpanDroppedEventsCount,
            (Context::Span, ["dropped_links_count"]) => SpanDroppedLinksCount,
            (Context::Span, ["flags"]) => SpanFlags,
            (Context::SpanEvent, ["name"]) => EventName,
            (Context::SpanEvent, ["time_unix_nano"]) => EventTimeUnixNano,
            (Context::SpanEvent, ["attributes"]) => EventAttributes,
            (Context::SpanEvent, ["dropped_attributes_count"]) => EventDroppedAttributesCount,
            (Context::Metric, ["name"]) => MetricName,
            (Context::Metric, ["description"]) => MetricDescription,
            (Context::Metric, ["unit"]) => MetricUnit,
            (Context::Metric, ["type"]) => MetricType,
            (Context::Metric, ["aggregation_temporality"]) => MetricAggregationTemporality,
            (Context::Metric, ["is_monotonic"]) => MetricIsMonotonic,
            (Context::DataPoint, ["attributes"]) => PointAttributes,
            (Context::DataPoint, ["start_time_unix_nano"]) => PointStartTimeUnixNano,
            (Context::DataPoint, ["time_unix_nano"]) => PointTimeUnixNano,
            (Context::DataPoint, ["value_double"]) => PointValueDouble,
            (Context::DataPoint, ["value_int"]) => PointValueInt,
            (Context::DataPoint, ["count"]) => PointCount,
            (Context::DataPoint, ["sum"]) => PointSum,
            (Context::DataPoint, ["flags"]) => PointFlags,
            (Context::Log, ["body"]) => LogBody,
            (Context::Log, ["body", "string"]) => LogBodyString,
            (Context::Log, ["attributes"]) => LogAttributes,
            (Context::Log, ["severity_number"]) => LogSeverityNumber,
            (Context::Log, ["severity_text"]) => LogSeverityText,
            (Context::Log, ["time_unix_nano"]) => LogTimeUnixNano,
            (Context::Log, ["observed_time_unix_nano"]) => LogObservedTimeUnixNano,
            (Context::Log, ["trace_id"]) => LogTraceId,
            (Context::Log, ["trace_id", "string"]) => LogTraceIdString,
            (Context::Log, ["span_id"]) => LogSpanId,
            (Context::Log, ["span_id", "string"]) => LogSpanIdString,
            (Context::Log, ["flags"]) => LogFlags,
            (Context::Log, ["dropped_attributes_count"]) => LogDroppedAttributesCount,
            (Context::Log, ["event_name"]) => LogEventName,
            _ => return None,
        })
    }

    /// The context the field belongs to.
    pub fn context(self) -> Context {
        use Field::*;
        match self {
            ResourceAttributes | ResourceDroppedAttributesCount => Context::Resource,
            ScopeName | ScopeVersion | ScopeAttributes | ScopeDroppedAttributesCount => {
                Context::Scope
            }
            EventName | EventTimeUnixNano | EventAttributes | EventDroppedAttributesCount => {
                Context::SpanEvent
            }
            MetricName
            | MetricDescription
            | MetricUnit
            | MetricType
            | MetricAggregationTemporality
            | MetricIsMonotonic => Context::Metric,
            PointAttributes
            | PointStartTimeUnixNano
            | PointTimeUnixNano
            | PointValueDouble
            | PointValueInt
            | PointCount
            | PointSum
            | PointFlags => Context::DataPoint,
            LogBody
            | LogBodyString
            | LogAttributes
            | LogSeverityNumber
            | LogSeverityText
            | LogTimeUnixNano
            | LogObservedTimeUnixNano
            | LogTraceId
            | LogTraceIdString
            | LogSpanId
            | LogSpanIdString
            | LogFlags
            | LogDroppedAttributesCount
            | LogEventName => Context::Log,
            _ => Context::Span,
        }
    }

    /// Whether `[key]` may follow the field (maps and the log body).
    pub fn indexable(self) -> bool {
        use Field::*;
        matches!(
            self,
            ResourceAttributes
                | ScopeAttributes
                | SpanAttributes
                | EventAttributes
                | PointAttributes
                | LogAttributes
                | LogBody
        )
    }
}

/// A data point of any metric type, for reading.
#[derive(Clone, Copy)]
pub enum Point<'a> {
    Number(&'a opentelemetry_proto::tonic::metrics::v1::NumberDataPoint),
    Histogram(&'a opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint),
    Exponential(&'a opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint),
    Summary(&'a opentelemetry_proto::tonic::metrics::v1::SummaryDataPoint),
}

/// The item-level part of an [`Item`].
#[derive(Clone, Copy)]
pub enum Rec<'a> {
    /// Resource or scope context: nothing below.
    None,
    Span(&'a Span),
    Event(&'a Span, &'a span::Event),
    Metric(&'a Metric),
    Point(&'a Metric, Point<'a>),
    Log(&'a LogRecord),
}

/// One item seen read-only, with its resource and scope.
#[derive(Clone, Copy)]
pub struct Item<'a> {
    pub resource: Option<&'a Resource>,
    pub scope: Option<&'a InstrumentationScope>,
    pub rec: Rec<'a>,
}

/// The item-level part of an [`ItemMut`]; events and points by index.
pub enum RecMut<'a> {
    None,
    Span(&'a mut Span),
    Event(&'a mut Span, usize),
    Metric(&'a mut Metric),
    Point(&'a mut Metric, usize),
    Log(&'a mut LogRecord),
}

/// One item open for editing.
pub struct ItemMut<'a> {
    pub resource: &'a mut Option<Resource>,
    pub scope: &'a mut Option<InstrumentationScope>,
    pub rec: RecMut<'a>,
}

/// The `i`-th data point of `m`, whatever its type.
pub fn point(m: &Metric, i: usize) -> Option<Point<'_>> {
    Some(match m.data.as_ref()? {
        metric::Data::Gauge(g) => Point::Number(g.data_points.get(i)?),
        metric::Data::Sum(s) => Point::Number(s.data_points.get(i)?),
        metric::Data::Histogram(h) => Point::Histogram(h.data_points.get(i)?),
        metric::Data::ExponentialHistogram(h) => Point::Exponential(h.data_points.get(i)?),
        metric::Data::Summary(s) => Point::Summary(s.data_points.get(i)?),
    })
}

impl ItemMut<'_> {
    /// A read-only view (cheap: a few references).
    pub fn view(&self) -> Item<'_> {
        let rec = match &self.rec {
            RecMut::None => Rec::None,
            RecMut::Span(s) => Rec::Span(s),
            RecMut::Event(s, i) => match s.events.get(*i) {
                Some(e) => Rec::Event(s, e),
                None => Rec::Span(s),
            },
            RecMut::Metric(m) => Rec::Metric(m),
            RecMut::Point(m, i) => match point(m, *i) {
                Some(p) => Rec::Point(m, p),
                None => Rec::Metric(m),
            },
            RecMut::Log(l) => Rec::Log(l),
        };
        Item {
            resource: self.resource.as_ref(),
            scope: self.scope.as_ref(),
            rec,
        }
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn id_string(b: &[u8]) -> Value<'static> {
    if b.iter().all(|x| *x == 0) {
        Value::Str(Cow::Borrowed(""))
    } else {
        Value::Str(Cow::Owned(hex(b)))
    }
}

fn u64v(v: u64) -> Value<'static> {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn attrs(v: &[KeyValue]) -> Value<'_> {
    Value::Map(Cow::Borrowed(v))
}

fn s(v: &str) -> Value<'_> {
    Value::Str(Cow::Borrowed(v))
}

/// Reads `f` on `item`. A field of a context the item does not have reads as nil.
pub fn read<'a>(item: &Item<'a>, f: Field) -> Value<'a> {
    use Field::*;
    let span = match item.rec {
        Rec::Span(sp) | Rec::Event(sp, _) => Some(sp),
        _ => None,
    };
    let metric = match item.rec {
        Rec::Metric(m) | Rec::Point(m, _) => Some(m),
        _ => None,
    };
    let point = match item.rec {
        Rec::Point(_, p) => Some(p),
        _ => None,
    };
    let log = match item.rec {
        Rec::Log(l) => Some(l),
        _ => None,
    };
    let event = match item.rec {
        Rec::Event(_, e) => Some(e),
        _ => None,
    };
    let v = match f.context() {
        Context::Resource => item.resource.map(|r| match f {
            ResourceAttributes => attrs(&r.attributes),
            _ => Value::Int(i64::from(r.dropped_attributes_count)),
        }),
        Context::Scope => item.scope.map(|sc| match f {
            ScopeName => s(&sc.name),
            ScopeVersion => s(&sc.version),
            ScopeAttributes => attrs(&sc.attributes),
            _ => Value::Int(i64::from(sc.dropped_attributes_count)),
        }),
        Context::Span => span.map(|sp| match f {
            SpanName => s(&sp.name),
            SpanKind => Value::Int(i64::from(sp.kind)),
            SpanTraceId => Value::Bytes(Cow::Borrowed(&sp.trace_id)),
            SpanTraceIdString => id_string(&sp.trace_id),
            SpanId => Value::Bytes(Cow::Borrowed(&sp.span_id)),
            SpanIdString => id_string(&sp.span_id),
            SpanParentSpanId => Value::Bytes(Cow::Borrowed(&sp.parent_span_id)),
            SpanParentSpanIdString => id_string(&sp.parent_span_id),
            SpanTraceState => s(&sp.trace_state),
            SpanStatusCode => Value::Int(sp.status.as_ref().map_or(0, |x| i64::from(x.code))),
            SpanStatusMessage => s(sp.status.as_ref().map_or("", |x| x.message.as_str())),
            SpanStartTimeUnixNano => u64v(sp.start_time_unix_nano),
            SpanEndTimeUnixNano => u64v(sp.end_time_unix_nano),
            SpanAttributes => attrs(&sp.attributes),
            SpanDroppedAttributesCount => Value::Int(i64::from(sp.dropped_attributes_count)),
            SpanDroppedEventsCount => Value::Int(i64::from(sp.dropped_events_count)),
            SpanDroppedLinksCount => Value::Int(i64::from(sp.dropped_links_count)),
            _ => Value::Int(i64::from(sp.flags)),
        }),
        Context::SpanEvent => event.map(|e| match f {
            EventName => s(&e.name),
            EventTimeUnixNano => u64v(e.time_unix_nano),
            EventAttributes => attrs(&e.attributes),
            _ => Value::Int(i64::from(e.dropped_attributes_count)),
        }),
        Context::Metric => metric.map(|m| match f {
            MetricName => s(&m.name),
            MetricDescription => s(&m.description),
            MetricUnit => s(&m.unit),
            MetricType => Value::Int(match m.data {
                None => 0,
                Some(metric::Data::Gauge(_)) => 1,
                Some(metric::Data::Sum(_)) => 2,
                Some(metric::Data::Histogram(_)) => 3,
                Some(metric::Data::ExponentialHistogram(_)) => 4,
                Some(metric::Data::Summary(_)) => 5,
            }),
            MetricAggregationTemporality => Value::Int(i64::from(match &m.data {
                Some(metric::Data::Sum(x)) => x.aggregation_temporality,
                Some(metric::Data::Histogram(x)) => x.aggregation_temporality,
                Some(metric::Data::ExponentialHistogram(x)) => x.aggregation_temporality,
                _ => 0,
            })),
            _ => Value::Bool(matches!(&m.data, Some(metric::Data::Sum(x)) if x.is_monotonic)),
        }),
        Context::DataPoint => point.map(|p| read_point(p, f)),
        Context::Log => log.map(|l| match f {
            LogBody => l.body.as_ref().map_or(Value::Nil, Value::from_any),
            LogBodyString => Value::Str(Cow::Owned(
                l.body
                    .as_ref()
                    .map_or(String::new(), |b| Value::from_any(b).as_string()),
            )),
            LogAttributes => attrs(&l.attributes),
            LogSeverityNumber => Value::Int(i64::from(l.severity_number)),
            LogSeverityText => s(&l.severity_text),
            LogTimeUnixNano => u64v(l.time_unix_nano),
            LogObservedTimeUnixNano => u64v(l.observed_time_unix_nano),
            LogTraceId => Value::Bytes(Cow::Borrowed(&l.trace_id)),
            LogTraceIdString => id_string(&l.trace_id),
            LogSpanId => Value::Bytes(Cow::Borrowed(&l.span_id)),
            LogSpanIdString => id_string(&l.span_id),
            LogFlags => Value::Int(i64::from(l.flags)),
            LogDroppedAttributesCount => Value::Int(i64::from(l.dropped_attributes_count)),
            _ => s(&l.event_name),
        }),
    };
    v.unwrap_or(Value::Nil)
}

fn read_point<'a>(p: Point<'a>, f: Field) -> Value<'a> {
    use Field::*;
    let (a, start, time, flags) = match p {
        Point::Number(x) => (
            &x.attributes,
            x.start_time_unix_nano,
            x.time_unix_nano,
            x.flags,
        ),
        Point::Histogram(x) => (
            &x.attributes,
            x.start_time_unix_nano,
            x.time_unix_nano,
            x.flags,
        ),
        Point::Exponential(x) => (
            &x.attributes,
            x.start_time_unix_nano,
            x.time_unix_nano,
            x.flags,
        ),
        Point::Summary(x) => (
            &x.attributes,
            x.start_time_unix_nano,
            x.time_unix_nano,
            x.flags,
        ),
    };
    match f {
        PointAttributes => attrs(a),
        PointStartTimeUnixNano => u64v(start),
        PointTimeUnixNano => u64v(time),
        PointFlags => Value::Int(i64::from(flags)),
        PointValueDouble => match p {
            Point::Number(x) => match x.value {
                Some(number_data_point::Value::AsDouble(d)) => Value::Float(d),
                _ => Value::Float(0.0),
            },
            _ => Value::Nil,
        },
        PointValueInt => match p {
            Point::Number(x) => match x.value {
                Some(number_data_point::Value::AsInt(i)) => Value::Int(i),
                _ => Value::Int(0),
            },
            _ => Value::Nil,
        },
        PointCount => match p {
            Point::Histogram(x) => u64v(x.count),
            Point::Exponential(x) => u64v(x.count),
            Point::Summary(x) => u64v(x.count),
            Point::Number(_) => Value::Nil,
        },
        _ => match p {
            Point::Histogram(x) => x.sum.map_or(Value::Nil, Value::Float),
            Point::Exponential(x) => x.sum.map_or(Value::Nil, Value::Float),
            Point::Summary(x) => Value::Float(x.sum),
            Point::Number(_) => Value::Nil,
        },
    }
}

/// Where a keyed path starts when it is written: an attribute list or one value.
pub enum Root<'m> {
    Attrs(&'m mut Vec<KeyValue>),
    Any(&'m mut AnyValue),
}

/// The writable map or value behind an indexable field, created when missing
/// (the resource, scope, log body). `None` when the item has no such level.
pub fn root_mut<'m>(item: &'m mut ItemMut<'_>, f: Field) -> Option<Root<'m>> {
    use Field::*;
    Some(match f {
        ResourceAttributes => Root::Attrs(
            &mut item
                .resource
                .get_or_insert_with(Default::default)
                .attributes,
        ),
        ScopeAttributes => {
            Root::Attrs(&mut item.scope.get_or_insert_with(Default::default).attributes)
        }
        SpanAttributes => match &mut item.rec {
            RecMut::Span(sp) | RecMut::Event(sp, _) => Root::Attrs(&mut sp.attributes),
            _ => return None,
        },
        EventAttributes => match &mut item.rec {
            RecMut::Event(sp, i) => Root::Attrs(&mut sp.events.get_mut(*i)?.attributes),
            _ => return None,
        },
        PointAttributes => match &mut item.rec {
            RecMut::Point(m, i) => Root::Attrs(point_attrs_mut(m, *i)?),
            _ => return None,
        },
        LogAttributes => match &mut item.rec {
            RecMut::Log(l) => Root::Attrs(&mut l.attributes),
            _ => return None,
        },
        LogBody => match &mut item.rec {
            RecMut::Log(l) => Root::Any(l.body.get_or_insert_with(Default::default)),
            _ => return None,
        },
        _ => return None,
    })
}

fn point_attrs_mut(m: &mut Metric, i: usize) -> Option<&mut Vec<KeyValue>> {
    Some(match m.data.as_mut()? {
        metric::Data::Gauge(g) => &mut g.data_points.get_mut(i)?.attributes,
        metric::Data::Sum(s) => &mut s.data_points.get_mut(i)?.attributes,
        metric::Data::Histogram(h) => &mut h.data_points.get_mut(i)?.attributes,
        metric::Data::ExponentialHistogram(h) => &mut h.data_points.get_mut(i)?.attributes,
        metric::Data::Summary(s) => &mut s.data_points.get_mut(i)?.attributes,
    })
}

/// Writes a whole (unkeyed) field. A value of the wrong type is ignored, as
/// upstream does; returns whether it was written.
pub fn write(item: &mut ItemMut<'_>, f: Field, v: Value<'_>) -> bool {
    use Field::*;
    if let Some(root) = root_mut(item, f) {
        return match (root, v) {
            (Root::Attrs(a), Value::Map(m)) => {
                *a = m.into_owned();
                true
            }
            (Root::Any(a), v) => {
                *a = v.into_any();
                true
            }
            _ => false,
        };
    }
    let str_of = |v: &Value<'_>| match v {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    };
    let int_of = |v: &Value<'_>| match v {
        Value::Int(i) => Some(*i),
        _ => None,
    };
    let u32_of = |v: &Value<'_>| int_of(v).and_then(|i| u32::try_from(i).ok());
    let u64_of = |v: &Value<'_>| int_of(v).and_then(|i| u64::try_from(i).ok());
    let bytes_of = |v: &Value<'_>, n: usize| match v {
        Value::Bytes(b) if b.len() == n => Some(b.to_vec()),
        _ => None,
    };
    macro_rules! put {
        ($place:expr, $val:expr) => {
            match $val {
                Some(x) => {
                    $place = x;
                    true
                }
                None => false,
            }
        };
    }
    if f == ResourceDroppedAttributesCount {
        return put!(
            item.resource
                .get_or_insert_with(Default::default)
                .dropped_attributes_count,
            u32_of(&v)
        );
    }
    match (&mut *item.scope, &mut item.rec, f) {
        (scope, _, ScopeName) => put!(scope.get_or_insert_with(Default::default).name, str_of(&v)),
        (scope, _, ScopeVersion) => put!(
            scope.get_or_insert_with(Default::default).version,
            str_of(&v)
        ),
        (scope, _, ScopeDroppedAttributesCount) => put!(
            scope
                .get_or_insert_with(Default::default)
                .dropped_attributes_count,
            u32_of(&v)
        ),
        (_, RecMut::Span(sp) | RecMut::Event(sp, _), f) if f.context() == Context::Span => {
            match f {
                SpanName => put!(sp.name, str_of(&v)),
                SpanKind => put!(sp.kind, int_of(&v).and_then(|i| i32::try_from(i).ok())),
                SpanTraceId => put!(sp.trace_id, bytes_of(&v, 16)),
                SpanId => put!(sp.span_id, bytes_of(&v, 8)),
                SpanParentSpanId => put!(sp.parent_span_id, bytes_of(&v, 8)),
                SpanTraceState => put!(sp.trace_state, str_of(&v)),
                SpanStatusCode => put!(
                    sp.status.get_or_insert_with(Status::default).code,
                    int_of(&v).and_then(|i| i32::try_from(i).ok())
                ),
                SpanStatusMessage => put!(
                    sp.status.get_or_insert_with(Status::default).message,
                    str_of(&v)
                ),
                SpanStartTimeUnixNano => put!(sp.start_time_unix_nano, u64_of(&v)),
                SpanEndTimeUnixNano => put!(sp.end_time_unix_nano, u64_of(&v)),
                SpanDroppedAttributesCount => put!(sp.dropped_attributes_count, u32_of(&v)),
                SpanDroppedEventsCount => put!(sp.dropped_events_count, u32_of(&v)),
                SpanDroppedLinksCount => put!(sp.dropped_links_count, u32_of(&v)),
                SpanFlags => put!(sp.flags, u32_of(&v)),
                _ => false,
            }
        }
        (_, RecMut::Event(sp, i), f) if f.context() == Context::SpanEvent => {
            let Some(e) = sp.events.get_mut(*i) else {
                return false;
            };
            match f {
                EventName => put!(e.name, str_of(&v)),
                EventTimeUnixNano => put!(e.time_unix_nano, u64_of(&v)),
                EventDroppedAttributesCount => put!(e.dropped_attributes_count, u32_of(&v)),
                _ => false,
            }
        }
        (_, RecMut::Metric(m) | RecMut::Point(m, _), f) if f.context() == Context::Metric => {
            match f {
                MetricName => put!(m.name, str_of(&v)),
                MetricDescription => put!(m.description, str_of(&v)),
                MetricUnit => put!(m.unit, str_of(&v)),
                _ => false,
            }
        }
        (_, RecMut::Point(m, i), f) if f.context() == Context::DataPoint => {
            let i = *i;
            let number = match m.data.as_mut() {
                Some(metric::Data::Gauge(g)) => g.data_points.get_mut(i),
                Some(metric::Data::Sum(s)) => s.data_points.get_mut(i),
                _ => None,
            };
            match (number, f, &v) {
                (Some(p), PointValueDouble, Value::Float(d)) => {
                    p.value = Some(number_data_point::Value::AsDouble(*d));
                    true
                }
                (Some(p), PointValueInt, Value::Int(n)) => {
                    p.value = Some(number_data_point::Value::AsInt(*n));
                    true
                }
                (Some(p), PointStartTimeUnixNano, _) => put!(p.start_time_unix_nano, u64_of(&v)),
                (Some(p), PointTimeUnixNano, _) => put!(p.time_unix_nano, u64_of(&v)),
                (Some(p), PointFlags, _) => put!(p.flags, u32_of(&v)),
                _ => false,
            }
        }
        (_, RecMut::Log(l), f) => match f {
            LogSeverityNumber => put!(
                l.severity_number,
                int_of(&v).and_then(|i| i32::try_from(i).ok())
            ),
            LogSeverityText => put!(l.severity_text, str_of(&v)),
            LogTimeUnixNano => put!(l.time_unix_nano, u64_of(&v)),
            LogObservedTimeUnixNano => put!(l.observed_time_unix_nano, u64_of(&v)),
            LogTraceId => put!(l.trace_id, bytes_of(&v, 16)),
            LogSpanId => put!(l.span_id, bytes_of(&v, 8)),
            LogFlags => put!(l.flags, u32_of(&v)),
            LogDroppedAttributesCount => put!(l.dropped_attributes_count, u32_of(&v)),
            LogEventName => put!(l.event_name, str_of(&v)),
            _ => false,
        },
        _ => false,
    }
}
