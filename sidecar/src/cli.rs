//! Command line: run, `validate`, `healthcheck`, `components`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tern_core::config::{self, ConfigSource, ValidatedConfig};
use tern_core::registry::Registry;
use tern_core::service::BuildContext;
use tern_core::startup;

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
        Some(Command::Validate) => match load(&cli, &registry) {
            Ok(_) => ExitCode::SUCCESS,
            Err(code) => code,
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

/// Loads and validates the config; on failure prints every issue and returns
/// exit code 1.
fn load(cli: &Cli, registry: &Registry) -> Result<ValidatedConfig, ExitCode> {
    config::load_and_validate(&sources(cli), registry).map_err(|issues| {
        for i in issues {
            eprintln!("error: {i}");
        }
        ExitCode::from(1)
    })
}

fn serve(cli: &Cli, registry: &Registry) -> anyhow::Result<ExitCode> {
    let cfg = match load(cli, registry) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    startup::init_logging(Some(&cfg.telemetry));
    let runtime = startup::runtime(None).context("starting the runtime")?;
    runtime.block_on(async move {
        let started = startup::start(&cfg, BuildContext::default()).await?;
        tokio::spawn(startup::release_unused_memory_every(Duration::from_secs(1)));
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            "Everything is ready. Begin running and processing data."
        );
        startup::stop_signal().await;
        tracing::info!(timeout = ?cli.shutdown_timeout, "Received shutdown signal; draining.");
        let began = Instant::now();
        let report = started.service.shutdown(cli.shutdown_timeout).await;
        started.metrics.shutdown(Duration::from_millis(200)).await;
        if report.unsent_items > 0 {
            tracing::error!(
                unsent_items = report.unsent_items,
                "Shutdown complete; some data could not be delivered."
            );
        } else {
            tracing::info!(elapsed = ?began.elapsed(), "Shutdown complete.");
        }
        Ok(ExitCode::SUCCESS)
    })
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
