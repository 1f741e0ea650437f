//! Generator of realistic OTLP trace export requests.
//!
//! One resource (service, host and cloud attributes), one instrumentation
//! scope, and spans grouped into small traces: a SERVER root per trace with
//! CLIENT (HTTP or database) and INTERNAL children. About 5% of spans carry
//! an `exception` event and an error status.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, AnyValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span::{Event, SpanKind},
    status::StatusCode,
    ResourceSpans, ScopeSpans, Span, Status,
};

/// Small, fast, deterministic PRNG (xorshift64*); good enough for ids.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Avoid the all-zero state, which xorshift never leaves.
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish integer in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // `below` never returns >= len for a non-empty slice; fall back to
        // the first element for robustness instead of panicking.
        let i = self.below(items.len() as u64) as usize;
        &items[i.min(items.len().saturating_sub(1))]
    }

    pub fn bytes<const N: usize>(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(N);
        while out.len() < N {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(N);
        out
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_string()))
}

fn i(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

fn resource() -> Resource {
    Resource {
        attributes: vec![
            s("service.name", "checkout-service"),
            s("service.version", "2.14.3"),
            s("service.namespace", "shop"),
            s(
                "service.instance.id",
                "4c1f6f0e-5b2a-4d43-9a43-0d8e5d1c7a21",
            ),
            s("deployment.environment.name", "production"),
            s("host.name", "ip-10-0-12-34.ec2.internal"),
            s("host.arch", "amd64"),
            s("os.type", "linux"),
            s("cloud.provider", "aws"),
            s("cloud.platform", "aws_ecs"),
            s("cloud.region", "us-east-1"),
            s("cloud.availability_zone", "us-east-1c"),
            s("cloud.account.id", "123456789012"),
            s(
                "aws.ecs.task.arn",
                "arn:aws:ecs:us-east-1:123456789012:task/shop/0f3c9d5e8a7b4c2d9e1f",
            ),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", "java"),
            s("telemetry.sdk.version", "1.44.1"),
        ],
        ..Default::default()
    }
}

const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/orders/{id}", "/api/v1/orders/8812734"),
    ("POST", "/api/v1/checkout", "/api/v1/checkout"),
    ("GET", "/api/v1/cart", "/api/v1/cart"),
    (
        "PUT",
        "/api/v1/cart/items/{sku}",
        "/api/v1/cart/items/SKU-44812",
    ),
    ("GET", "/api/v1/products", "/api/v1/products?page=3&size=24"),
];

const DOWNSTREAMS: &[(&str, &str)] = &[
    (
        "inventory.internal",
        "https://inventory.internal/v2/stock/SKU-44812",
    ),
    (
        "payments.internal",
        "https://payments.internal/v1/authorize",
    ),
    (
        "pricing.internal",
        "https://pricing.internal/v3/quotes?cur=USD",
    ),
];

const STATEMENTS: &[(&str, &str)] = &[
    (
        "SELECT",
        "SELECT id, status, total_cents, created_at FROM orders WHERE id = $1",
    ),
    (
        "INSERT",
        "INSERT INTO order_items (order_id, sku, qty) VALUES ($1, $2, $3)",
    ),
    (
        "UPDATE",
        "UPDATE carts SET item_count = item_count + $1 WHERE id = $2",
    ),
];

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "okhttp/4.12.0",
];

const INTERNAL_OPS: &[&str] = &[
    "OrderService.loadOrder",
    "PricingCalculator.applyDiscounts",
    "CartValidator.validate",
];

fn exception_event(rng: &mut Rng, time: u64) -> Event {
    let (ty, msg) = *rng.pick(&[
        (
            "java.net.SocketTimeoutException",
            "Read timed out after 2000 ms",
        ),
        (
            "org.postgresql.util.PSQLException",
            "ERROR: could not serialize access due to concurrent update",
        ),
        (
            "java.lang.IllegalStateException",
            "Cart version mismatch: expected 7 but was 8",
        ),
    ]);
    let stack = format!(
        "{ty}: {msg}\n\tat com.example.shop.orders.OrderService.loadOrder(OrderService.java:142)\n\tat com.example.shop.api.OrderController.get(OrderController.java:58)\n\tat jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)"
    );
    Event {
        time_unix_nano: time,
        name: "exception".to_string(),
        attributes: vec![
            s("exception.type", ty),
            s("exception.message", msg),
            s("exception.stacktrace", &stack),
        ],
        dropped_attributes_count: 0,
    }
}

fn span_base(
    trace_id: &[u8],
    span_id: Vec<u8>,
    parent: &[u8],
    name: String,
    kind: SpanKind,
    start: u64,
    dur: u64,
) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id,
        parent_span_id: parent.to_vec(),
        flags: 0x101,
        name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + dur,
        ..Default::default()
    }
}

/// Builds one export request with `spans` spans, all timed around `now_ns`.
pub fn trace_request(rng: &mut Rng, spans: usize, now_ns: u64) -> ExportTraceServiceRequest {
    let mut out = Vec::with_capacity(spans);
    let mut trace_id = Vec::new();
    let mut parents: Vec<Vec<u8>> = Vec::new();
    let mut trace_start = now_ns.saturating_sub(rng.below(5_000_000_000));
    let spans_per_trace = 10;
    for n in 0..spans {
        let pos = n % spans_per_trace;
        let start = trace_start + pos as u64 * 1_500_000 + rng.below(400_000);
        let dur = 200_000 + rng.below(40_000_000);
        let mut span = if pos == 0 {
            trace_id = rng.bytes::<16>();
            let root_id = rng.bytes::<8>();
            parents.clear();
            parents.push(root_id.clone());
            trace_start = now_ns.saturating_sub(rng.below(5_000_000_000));
            let (method, template, path) = *rng.pick(ROUTES);
            let status = *rng.pick(&[200i64, 200, 200, 201, 204, 404]);
            let mut sp = span_base(
                &trace_id,
                root_id,
                &[],
                format!("{method} {template}"),
                SpanKind::Server,
                trace_start,
                dur + 60_000_000,
            );
            sp.attributes = vec![
                s("http.request.method", method),
                s("url.path", path),
                s("http.route", template),
                i("http.response.status_code", status),
                s("server.address", "shop.example.com"),
                i("server.port", 443),
                s("client.address", "203.0.113.57"),
                s("user_agent.original", rng.pick::<&str>(USER_AGENTS)),
            ];
            sp
        } else {
            let span_id = rng.bytes::<8>();
            let parent = rng.pick(&parents).clone();
            let r = rng.below(10);
            if r < 2 {
                let (method, stmt) = *rng.pick(STATEMENTS);
                let mut sp = span_base(
                    &trace_id,
                    span_id.clone(),
                    &parent,
                    format!("{method} orders"),
                    SpanKind::Client,
                    start,
                    dur,
                );
                sp.attributes = vec![
                    s("db.system", "postgresql"),
                    s("db.name", "orders"),
                    s("db.operation", method),
                    s("db.statement", stmt),
                    s("server.address", "orders-db.internal"),
                    i("server.port", 5432),
                ];
                sp
            } else if r < 4 {
                let (host, url) = *rng.pick(DOWNSTREAMS);
                let method = if url.contains('?') { "GET" } else { "POST" };
                let mut sp = span_base(
                    &trace_id,
                    span_id.clone(),
                    &parent,
                    method.to_string(),
                    SpanKind::Client,
                    start,
                    dur,
                );
                sp.attributes = vec![
                    s("http.request.method", method),
                    s("url.full", url),
                    s("server.address", host),
                    i("server.port", 443),
                    i("http.response.status_code", 200),
                ];
                sp
            } else {
                let func = *rng.pick(INTERNAL_OPS);
                let mut sp = span_base(
                    &trace_id,
                    span_id.clone(),
                    &parent,
                    func.to_string(),
                    SpanKind::Internal,
                    start,
                    dur / 4,
                );
                sp.attributes = vec![
                    s("code.function", func),
                    i("app.items.count", rng.below(20) as i64),
                ];
                parents.push(span_id);
                sp
            }
        };
        if rng.chance(5) {
            let t = span.start_time_unix_nano
                + (span.end_time_unix_nano - span.start_time_unix_nano) / 2;
            span.events.push(exception_event(rng, t));
            span.status = Some(Status {
                message: "exception thrown".to_string(),
                code: StatusCode::Error as i32,
            });
        }
        out.push(span);
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.spring-webmvc-6.0".to_string(),
                    version: "2.10.0-alpha".to_string(),
                    ..Default::default()
                }),
                spans: out,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".to_string(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".to_string(),
        }],
    }
}

/// Pre-encodes `count` distinct requests of `spans` spans each.
pub fn encoded_bodies(count: usize, spans: usize, seed: u64, now_ns: u64) -> Vec<bytes::Bytes> {
    use prost::Message;
    let mut rng = Rng::new(seed);
    (0..count.max(1))
        .map(|_| bytes::Bytes::from(trace_request(&mut rng, spans, now_ns).encode_to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn body_size_is_realistic() {
        let bodies = encoded_bodies(16, 100, 42, 1_700_000_000_000_000_000);
        let avg = bodies.iter().map(|b| b.len()).sum::<usize>() / bodies.len();
        assert!(
            (20_000..=30_000).contains(&avg),
            "average body is {avg} bytes"
        );
        for b in &bodies {
            assert!(
                (16_000..=36_000).contains(&b.len()),
                "body is {} bytes",
                b.len()
            );
            let req = ExportTraceServiceRequest::decode(b.as_ref()).expect("decodes");
            assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 100);
        }
    }

    #[test]
    fn some_spans_have_exceptions() {
        let mut rng = Rng::new(9);
        let mut errors = 0;
        let mut total = 0;
        for _ in 0..20 {
            let req = trace_request(&mut rng, 100, 1);
            for sp in &req.resource_spans[0].scope_spans[0].spans {
                total += 1;
                if !sp.events.is_empty() {
                    errors += 1;
                    assert_eq!(sp.status.as_ref().map(|s| s.code), Some(2));
                }
            }
        }
        let pct = errors * 100 / total;
        assert!((2..=9).contains(&pct), "{pct}% spans with exceptions");
    }
}
