//! Self-telemetry: the `otelcol_*` metrics registry and its `/metrics` endpoint,
//! process statistics, and log setup.

pub mod metrics;
pub mod names;

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::config::telemetry::TelemetryConfig;
use crate::net::{self, response};
use metrics::Registry;

/// Heap statistics from the binary's global allocator.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeapStats {
    /// Bytes currently allocated.
    pub allocated: u64,
    /// Bytes allocated since start (monotonic).
    pub total_allocated: u64,
}

static HEAP_SOURCE: OnceLock<fn() -> HeapStats> = OnceLock::new();

/// Registers the allocator statistics source (called once by the binary).
pub fn set_heap_source(f: fn() -> HeapStats) {
    let _ = HEAP_SOURCE.set(f);
}

/// Current heap statistics, if the binary registered a source.
pub fn heap_stats() -> Option<HeapStats> {
    HEAP_SOURCE.get().map(|f| f())
}

/// Resident set size in bytes, from `/proc/self/status`.
pub fn rss_bytes() -> Option<u64> {
    proc_status_kb("VmRSS:").map(|kb| kb * 1024)
}

fn proc_status_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// User + system CPU seconds, from `/proc/self/stat`.
pub fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the full line (utime, stime) are 11 and 12 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Adds the process metrics and `target_info` to the registry.
pub fn register_process_metrics(reg: &Registry, cfg: &TelemetryConfig, instance_id: &str) {
    let started = Instant::now();
    let mut resource: Vec<(String, String)> = vec![
        ("service_instance_id".into(), instance_id.to_string()),
        ("service_name".into(), "tern".into()),
        ("service_version".into(), env!("CARGO_PKG_VERSION").into()),
    ];
    for (k, v) in &cfg.resource {
        let key: String = k
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        resource.retain(|(rk, _)| *rk != key);
        resource.push((key, v.clone()));
    }
    resource.sort();
    reg.add_scrape_hook(Box::new(move |out: &mut String| {
        let header = |out: &mut String, m: &names::Metric| {
            let _ = writeln!(
                out,
                "# HELP {} {}\n# TYPE {} {}",
                m.name,
                m.help,
                m.name,
                m.kind.as_str()
            );
        };
        let gauge = |out: &mut String, m: &names::Metric, v: f64| {
            header(out, m);
            metrics::write_sample(out, m.name, "", &[], None, v);
        };
        header(out, &names::TARGET_INFO);
        let labels: Vec<String> = resource
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        let _ = writeln!(out, "{}{{{}}} 1", names::TARGET_INFO.name, labels.join(","));
        gauge(out, &names::PROCESS_UPTIME, started.elapsed().as_secs_f64());
        if let Some(cpu) = cpu_seconds() {
            gauge(out, &names::PROCESS_CPU_SECONDS, cpu);
        }
        if let Some(rss) = rss_bytes() {
            gauge(out, &names::PROCESS_MEMORY_RSS, rss as f64);
        }
        if let Some(h) = heap_stats() {
            gauge(out, &names::PROCESS_HEAP_ALLOC_BYTES, h.allocated as f64);
            gauge(
                out,
                &names::PROCESS_TOTAL_ALLOC_BYTES,
                h.total_allocated as f64,
            );
        }
        if let Some(vm) = proc_status_kb("VmSize:") {
            gauge(
                out,
                &names::PROCESS_TOTAL_SYS_MEMORY_BYTES,
                (vm * 1024) as f64,
            );
        }
    }));
}

/// Serves `/metrics` on `address` until shut down.
pub async fn serve_metrics(address: &str, reg: Registry) -> Result<net::Server, String> {
    let listener = net::bind(address).await?;
    let handler: net::Handler = Arc::new(move |req| {
        let text = if req.uri().path() == "/metrics" {
            Some(reg.encode())
        } else {
            None
        };
        Box::pin(async move {
            match text {
                Some(t) => response(200, "text/plain; version=0.0.4; charset=utf-8", t),
                None => response(404, "text/plain; charset=utf-8", "404 page not found\n"),
            }
        })
    });
    Ok(net::serve(
        listener,
        None,
        handler,
        Duration::from_millis(500),
    ))
}

/// A random UUID (v4) for `service.instance.id`.
pub fn instance_id() -> String {
    if let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/random/uuid") {
        return s.trim().to_string();
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:032x}", nanos ^ (u128::from(std::process::id()) << 64))
}

/// Installs the tracing subscriber (stderr; console or JSON lines).
pub fn init_logging(level: &str, encoding: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if encoding == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
