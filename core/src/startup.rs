//! Process start-up shared by both binaries (`tern` and `tern-extension`): the
//! async runtime, allocator statistics, logging, the self-metrics endpoint and
//! the service, memory trimming, the stop signal. The binaries keep only what
//! differs: the sidecar's command line, the Lambda extension's registration and
//! lifecycle. This sits at the top layer, beside the binaries: it may use
//! [`crate::service`] and [`crate::config`].

use std::time::Duration;

use crate::config::{TelemetryConfig, ValidatedConfig};
use crate::net;
use crate::registry::BuildError;
use crate::service::{BuildContext, Service};
use crate::telemetry;

/// Memory the allocator may keep beyond the live heap before it is handed back.
const TRIM_SLACK: u64 = 16 * 1024 * 1024;

/// The multi-threaded runtime; `workers` threads, or one per core.
pub fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        b.worker_threads(n);
    }
    b.enable_all().build()
}

/// Reports the counting allocator's statistics as the process heap metrics.
/// Call once, from a binary that installs `tern_alloc::Counting` as its global
/// allocator.
pub fn count_heap() {
    telemetry::set_heap_source(|| telemetry::HeapStats {
        allocated: tern_alloc::allocated(),
        total_allocated: tern_alloc::total_allocated(),
    });
}

/// Installs logging as `service.telemetry.logs` says (`info`, console without a
/// config); `TERN_LOG` overrides the level.
pub fn init_logging(cfg: Option<&TelemetryConfig>) {
    match cfg {
        Some(c) => telemetry::init_logging(&c.log_level, &c.log_encoding),
        None => telemetry::init_logging("info", "console"),
    }
}

/// After a burst, hands memory the allocator keeps but no longer uses back to the
/// OS: only when RSS exceeds the live heap by 16 MiB.
pub fn release_unused_memory() {
    if let Some(rss) = telemetry::rss_bytes() {
        if rss > tern_alloc::allocated() + TRIM_SLACK {
            tern_alloc::release_free_memory();
        }
    }
}

/// [`release_unused_memory`] every `period`, forever (spawn it).
pub async fn release_unused_memory_every(period: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        release_unused_memory();
    }
}

/// Why [`start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The self-metrics endpoint could not listen.
    #[error("self-metrics endpoint: {0}")]
    Metrics(String),
    /// A component could not be built or started.
    #[error(transparent)]
    Service(#[from] BuildError),
}

/// The self-metrics endpoint, when configured.
pub struct MetricsEndpoint(Option<net::Server>);

impl MetricsEndpoint {
    /// Stops serving, letting open scrapes finish within `grace`.
    pub async fn shutdown(self, grace: Duration) {
        if let Some(s) = self.0 {
            s.shutdown(grace).await;
        }
    }
}

/// What [`start`] started.
pub struct Started {
    pub service: Service,
    pub metrics: MetricsEndpoint,
}

/// Registers the process metrics, serves `/metrics` (when
/// `service.telemetry.metrics` has an address), then builds and starts the
/// service from `cfg` in `ctx`.
pub async fn start(cfg: &ValidatedConfig, ctx: BuildContext) -> Result<Started, StartError> {
    telemetry::register_process_metrics(&ctx.telemetry, &cfg.telemetry, &telemetry::instance_id());
    let metrics = match &cfg.telemetry.metrics_address {
        Some(addr) => Some(
            telemetry::serve_metrics(addr, ctx.telemetry.clone())
                .await
                .map_err(StartError::Metrics)?,
        ),
        None => None,
    };
    let service = Service::start(cfg, ctx).await?;
    Ok(Started {
        service,
        metrics: MetricsEndpoint(metrics),
    })
}

/// Waits for SIGTERM or SIGINT (forever when the handlers cannot be installed).
pub async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("Cannot install signal handlers; running until killed.");
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_keep_the_wording_the_binaries_print() {
        let e = StartError::Metrics("cannot bind localhost:8888".into());
        assert_eq!(
            e.to_string(),
            "self-metrics endpoint: cannot bind localhost:8888"
        );
        let e = StartError::from(BuildError::new("otlp", "address in use"));
        assert_eq!(e.to_string(), "otlp: address in use");
        assert!(std::error::Error::source(&e).is_none());
    }
}
