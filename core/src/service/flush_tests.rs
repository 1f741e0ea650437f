//! `Service::flush`: what the Lambda extension calls before every freeze. It must push out
//! what batchers hold, wait for queued and in-flight exports, and report what is left when
//! the deadline passes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{self, ConfigSource};
use crate::net;
use crate::receiver::telemetryapi::record::parse_batch;
use crate::receiver::telemetryapi::TelemetryHub;
use crate::registry::Registry;

/// An OTLP/HTTP backend on port 0 that counts requests and answers after `delay`.
async fn backend(delay: Duration) -> (net::Server, String, Arc<AtomicUsize>) {
    let listener = net::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let handler: net::Handler = Arc::new(move |_req| {
        let h = h.clone();
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            h.fetch_add(1, Ordering::SeqCst);
            net::response(200, "application/x-protobuf", "")
        })
    });
    let server = net::serve(listener, None, handler, Duration::from_millis(100));
    (server, format!("http://{addr}"), hits)
}

async fn service_to(endpoint: &str) -> (Service, Arc<TelemetryHub>) {
    let yaml = format!(
        "receivers: {{telemetryapi: {{}}}}\n\
         processors: {{batch: {{timeout: 10m}}}}\n\
         exporters: {{otlphttp: {{endpoint: \"{endpoint}\", compression: none, retry_on_failure: {{enabled: false}}}}}}\n\
         service: {{telemetry: {{metrics: {{level: none}}}}, pipelines: {{logs: {{receivers: [telemetryapi], processors: [batch], exporters: [otlphttp]}}}}}}\n"
    );
    let root = config::load(
        &[ConfigSource::Inline {
            label: "test".into(),
            text: yaml,
        }],
        &|_| None,
    )
    .unwrap();
    let cfg = config::validate(&root, &Registry::builtin()).unwrap_or_else(|e| panic!("{e:?}"));
    let ctx = BuildContext::default();
    let hub: Arc<TelemetryHub> = ctx.slots.get_or_default();
    let svc = Service::start(&cfg, ctx).await.unwrap();
    (svc, hub)
}

async fn feed_one_log(hub: &TelemetryHub) {
    let (events, _) =
        parse_batch(br#"[{"time":"2024-01-01T00:00:00.000Z","type":"function","record":"hello"}]"#)
            .unwrap();
    assert!(hub.has_receivers());
    hub.deliver(&events).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_drains_the_batcher_and_waits_for_the_export() {
    let (server, endpoint, hits) = backend(Duration::from_millis(150)).await;
    let (svc, hub) = service_to(&endpoint).await;
    feed_one_log(&hub).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the batcher should still hold the data"
    );
    let started = Instant::now();
    let report = svc.flush(started + Duration::from_secs(5)).await;
    assert_eq!(report.unsent_items, 0);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "flush returned before the export finished"
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    // Nothing pending: a second flush returns at once.
    let t = Instant::now();
    assert_eq!(svc.flush(t + Duration::from_secs(5)).await.unsent_items, 0);
    assert!(t.elapsed() < Duration::from_millis(100));
    svc.shutdown(Duration::from_secs(1)).await;
    server.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_stops_at_the_deadline_and_reports_what_is_left() {
    let (server, endpoint, _hits) = backend(Duration::from_secs(3)).await;
    let (svc, hub) = service_to(&endpoint).await;
    feed_one_log(&hub).await;
    let started = Instant::now();
    let report = svc.flush(started + Duration::from_millis(200)).await;
    let took = started.elapsed();
    assert_eq!(report.unsent_items, 1);
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(1),
        "{took:?}"
    );
    svc.shutdown(Duration::from_millis(100)).await;
    server.shutdown(Duration::from_millis(100)).await;
}
