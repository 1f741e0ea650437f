//! Command line: run, `validate`, `healthcheck`, `components`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tern_core::config::{self, ConfigSource};
use tern_core::registry::Registry;
use tern_core::service::{BuildContext, Service};
use tern_core::telemetry;

#[derive(Parser, Debug)]
#[command(
    name = "tern",
    version,
    about = "Tern: a fast, small OpenTelemetry collector for AWS workloads."
)]
pub struct Cli {
    /// Config source: a file path, `file:PATH`, `env:VAR` or `yaml:key::path: value`.
    /// Repeat to deep-merge several. Without any, the embedded default runs.
    #[arg(long = "config", global = true)]
    config: Vec<String>,
    /// How long SIGTERM/SIGINT may take to drain everything accepted.
    #[arg(long, default_value = "25s", value_parser = parse_duration, env = "TERN_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: Duration,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check the configuration and exit: 0 when valid, 1 listing every error.
    Validate,
    /// Exit 0 when the health check endpoint answers 200 (for container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://localhost:13133/")]
        url: String,
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// List the supported component types.
    Components,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    config::duration::parse_duration(s)
}

fn sources(cli: &Cli) -> Vec<ConfigSource> {
    if cli.config.is_empty() {
        vec![ConfigSource::Default]
    } else {
        cli.config.iter().map(|s| ConfigSource::parse(s)).collect()
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let registry = Registry::builtin();
    match &cli.command {
        Some(Command::Validate) => match config::load_and_validate(&sources(&cli), &registry) {
            Ok(_) => ExitCode::SUCCESS,
            Err(issues) => {
                for i in issues {
                    eprintln!("error: {i}");
                }
                ExitCode::from(1)
            }
        },
        Some(Command::Components) => {
            for kind in ["receivers", "processors", "exporters", "extensions"] {
                println!("{kind}: {}", registry.names(kind).join(", "));
            }
            ExitCode::SUCCESS
        }
        Some(Command::Healthcheck { url, timeout }) => match healthcheck(url, *timeout) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("unhealthy: {e:#}");
                ExitCode::from(1)
            }
        },
        None => match serve(&cli, &registry) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
    }
}

fn serve(cli: &Cli, registry: &Registry) -> anyhow::Result<ExitCode> {
    let cfg = match config::load_and_validate(&sources(cli), registry) {
        Ok(c) => c,
        Err(issues) => {
            for i in issues {
                eprintln!("error: {i}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    telemetry::init_logging(&cfg.telemetry.log_level, &cfg.telemetry.log_encoding);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let ctx = BuildContext::default();
        telemetry::register_process_metrics(
            &ctx.telemetry,
            &cfg.telemetry,
            &telemetry::instance_id(),
        );
        let metrics_server = match &cfg.telemetry.metrics_address {
            Some(addr) => Some(
                telemetry::serve_metrics(addr, ctx.telemetry.clone())
                    .await
                    .map_err(anyhow::Error::msg)
                    .context("self-metrics endpoint")?,
            ),
            None => None,
        };
        let service = Service::start(&cfg, ctx).await?;
        tokio::spawn(release_memory_after_bursts());
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            "Everything is ready. Begin running and processing data."
        );
        wait_for_signal().await;
        tracing::info!(timeout = ?cli.shutdown_timeout, "Received shutdown signal; draining.");
        let started = Instant::now();
        let report = service.shutdown(cli.shutdown_timeout).await;
        if let Some(m) = metrics_server {
            m.shutdown(Duration::from_millis(200)).await;
        }
        if report.unsent_items > 0 {
            tracing::error!(
                unsent_items = report.unsent_items,
                "Shutdown complete; some data could not be delivered."
            );
        } else {
            tracing::info!(elapsed = ?started.elapsed(), "Shutdown complete.");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// After a burst, hand memory the allocator no longer uses back to the OS (checked
/// every second; trimming only when RSS exceeds the live heap by 16 MiB).
async fn release_memory_after_bursts() {
    const SLACK: u64 = 16 * 1024 * 1024;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let Some(rss) = telemetry::rss_bytes() else {
            continue;
        };
        if rss > tern_alloc::allocated() + SLACK {
            tern_alloc::release_free_memory();
        }
    }
}

async fn wait_for_signal() {
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

/// A blocking HTTP/1.1 GET without extra dependencies.
fn healthcheck(url: &str, timeout: Duration) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let addr =
        std::net::ToSocketAddrs::to_socket_addrs(&authority.replace("localhost", "127.0.0.1"))
            .context("resolving the health check address")?
            .next()
            .context("no address")?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).context("connecting")?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut buf)?;
    let head = String::from_utf8_lossy(&buf);
    let status = head.split_whitespace().nth(1).unwrap_or("");
    anyhow::ensure!(status == "200", "health check answered {status:?}");
    Ok(())
}
