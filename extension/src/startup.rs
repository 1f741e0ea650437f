//! Init phase: register at once (in parallel with reading the config), bind the
//! listeners, start the pipelines, subscribe to the Telemetry API, then hand
//! over to the [`Lifecycle`]. Failures after registering go to `/init/error`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use tern_core::config::{ConfigSource, ValidatedConfig};
use tern_core::receiver::telemetryapi::TelemetryHub;
use tern_core::registry::Registry;
use tern_core::service::BuildContext;
use tern_core::startup;

use crate::api::ExtensionsApi;
use crate::flush::{FlushMode, FlushPolicy, SystemClock};
use crate::lifecycle::Lifecycle;
use crate::listener::{self, RuntimeDone};
use crate::settings::{self, ConfigLocation, LambdaSettings, CONFIG_URI_VAR};

/// Largest remote config accepted.
const MAX_REMOTE_CONFIG: usize = 4 * 1024 * 1024;

/// The executable's file name: Lambda requires it as the extension name.
fn extension_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "tern".into())
}

pub async fn run(exec: Instant) -> u8 {
    let Ok(runtime_api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        eprintln!("tern-extension: AWS_LAMBDA_RUNTIME_API is not set; this binary runs as a Lambda extension (use `tern` elsewhere).");
        return 1;
    };
    let api = ExtensionsApi::new(&runtime_api);
    let managed = std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE")
        .is_ok_and(|v| v == "lambda-managed-instances");
    // Lambda Managed Instances do not allow INVOKE subscriptions.
    let events: &'static [&'static str] = if managed {
        &["SHUTDOWN"]
    } else {
        &["INVOKE", "SHUTDOWN"]
    };
    let name = extension_name();
    let register = {
        let api = api.clone();
        tokio::spawn(async move { api.register(&name, events).await })
    };
    // A local config is read while the registration is in flight; a remote one is
    // fetched only once registered (no network calls before registering).
    let location = settings::config_location(std::env::var(CONFIG_URI_VAR).ok().as_deref());
    let remote = matches!(
        location,
        Ok(ConfigLocation::Http(_) | ConfigLocation::S3(_))
    );
    let mut register = Some(register);
    let mut registered = None;
    if remote {
        if let Some(r) = register.take() {
            registered = Some(r.await);
        }
    }
    let loaded = match location {
        Ok(l) => load_config(l).await,
        Err(e) => Err(e),
    };
    startup::init_logging(loaded.as_ref().ok().map(|(c, _)| &c.telemetry));
    let registered = match (registered, register) {
        (Some(r), _) => r,
        (None, Some(r)) => r.await,
        (None, None) => return 1,
    };
    let id = match registered {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Cannot register with the Extensions API.");
            return 1;
        }
        Err(e) => {
            tracing::error!(error = %e, "Registration task failed.");
            return 1;
        }
    };
    tracing::debug!(elapsed = ?exec.elapsed(), "Registered.");
    let (cfg, mut lambda) = match loaded {
        Ok(v) => v,
        Err(msg) => return init_error(&api, &id, "Extension.ConfigInvalid", &msg).await,
    };

    let ctx = BuildContext::default();
    let hub: Arc<TelemetryHub> = ctx.slots.get_or_default();
    let done = Arc::new(RuntimeDone::default());
    let (telemetry_server, telemetry_addr) =
        match listener::start(&lambda.telemetry_endpoint, hub.clone(), done.clone()).await {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("Telemetry API listener: {e}");
                return init_error(&api, &id, "Extension.StartFailed", &msg).await;
            }
        };
    let started = match startup::start(&cfg, ctx).await {
        Ok(s) => s,
        Err(e) => return init_error(&api, &id, "Extension.StartFailed", &e.to_string()).await,
    };
    drop(cfg);

    let with_logs = hub.has_receivers();
    let types: &[&str] = if with_logs {
        &["platform", "function", "extension"]
    } else {
        &["platform"]
    };
    let destination = format!(
        "http://{}:{}/",
        lambda.telemetry_host,
        telemetry_addr.port()
    );
    if let Err(e) = api
        .subscribe(&id, &destination, types, lambda.telemetry_timeout_ms)
        .await
    {
        // Without platform.runtimeDone the end of an invocation is unknown:
        // flush periodically and at SHUTDOWN instead of failing the function.
        tracing::error!(error = %e, "Telemetry API subscription failed; flushing periodically instead of after each invocation.");
        lambda.flush.mode = FlushMode::Periodic;
    }
    if managed {
        lambda.flush.mode = FlushMode::Periodic;
        lambda.flush.backup_interval = lambda.flush.periodic_interval;
    }
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        init_ms = exec.elapsed().as_secs_f64() * 1000.0,
        telemetry = %destination,
        mode = ?lambda.flush.mode,
        "Everything is ready. Begin running and processing data."
    );
    let policy = FlushPolicy::new(lambda.flush.clone(), Instant::now());
    let code = Lifecycle {
        api,
        id,
        service: Some(started.service),
        settings: lambda,
        done,
        clock: Arc::new(SystemClock),
        policy,
        managed,
        wait_for_telemetry: with_logs,
    }
    .run()
    .await;
    telemetry_server.shutdown(Duration::from_millis(50)).await;
    started.metrics.shutdown(Duration::from_millis(50)).await;
    code
}

async fn init_error(api: &ExtensionsApi, id: &str, kind: &str, message: &str) -> u8 {
    tracing::error!(error_type = kind, "{message}");
    if let Err(e) = api.init_error(id, kind, message).await {
        tracing::error!(error = %e, "Cannot report the init error to Lambda.");
    }
    1
}

/// Reads and validates the config named by `OPENTELEMETRY_COLLECTOR_CONFIG_URI`
/// (or the embedded default). Errors are one message listing every problem.
async fn load_config(
    location: ConfigLocation,
) -> Result<(ValidatedConfig, LambdaSettings), String> {
    let source = match &location {
        ConfigLocation::Default => ConfigSource::Inline {
            label: "<embedded default>".into(),
            text: settings::DEFAULT_CONFIG.into(),
        },
        ConfigLocation::File(p) => ConfigSource::File(p.clone()),
        ConfigLocation::Http(url) => ConfigSource::Inline {
            label: url.clone(),
            text: fetch(url, None).await?,
        },
        ConfigLocation::S3(obj) => ConfigSource::Inline {
            label: format!("s3://{}/{}", obj.bucket, obj.key),
            text: fetch_s3(obj).await?,
        },
    };
    let registry = Registry::builtin();
    let lookup = |name: &str| std::env::var(name).ok();
    settings::load(source, &registry, &lookup).map_err(|issues| {
        let list: Vec<String> = issues.iter().map(|i| i.to_string()).collect();
        format!("invalid collector config: {}", list.join("; "))
    })
}

/// GETs an S3 object with the function's credentials (SigV4). `AWS_ENDPOINT_URL_S3`
/// (or `AWS_ENDPOINT_URL`) points at another endpoint, path-style.
async fn fetch_s3(obj: &settings::S3Object) -> Result<String, String> {
    use tern_core::aws;
    let label = format!("s3://{}/{}", obj.bucket, obj.key);
    let opts = aws::AwsOptions {
        region: obj.region.clone(),
        use_imds_region: false,
        assume_role: None,
    };
    let cfg = aws::load(&opts)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    let signer = aws::Signer::new(&cfg, "s3").map_err(|e| format!("{label}: {e}"))?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()
        .filter(|e| !e.is_empty());
    let url = match endpoint {
        Some(base) => format!("{}/{}/{}", base.trim_end_matches('/'), obj.bucket, obj.key),
        None => format!(
            "https://{}.s3.{}.amazonaws.com/{}",
            obj.bucket,
            signer.region(),
            obj.key
        ),
    };
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("{label}: invalid URL {url}: {e}"))?;
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let mut req = http::Request::get(uri)
        .header(http::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{label}: {e}"))?;
    signer
        .sign(&mut req, &[])
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    fetch(&url, Some(req)).await
}

/// GETs a remote config (http or https, 10 s, 4 MiB at most); `prepared` is a
/// ready (signed) request for the same URL.
async fn fetch(url: &str, prepared: Option<http::Request<Empty<Bytes>>>) -> Result<String, String> {
    let req = match prepared {
        Some(r) => r,
        None => {
            let uri: hyper::Uri = url
                .parse()
                .map_err(|e| format!("{CONFIG_URI_VAR}={url}: invalid URL: {e}"))?;
            http::Request::get(uri)
                .body(Empty::<Bytes>::new())
                .map_err(|e| format!("{url}: {e}"))?
        }
    };
    let tls = tern_core::config::tls::build::client(&Default::default())
        .map_err(|e| format!("TLS setup: {e}"))?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(https);
    let get = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("fetching {url}: {e}"))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_REMOTE_CONFIG)
            .collect()
            .await
            .map_err(|e| format!("reading {url}: {e}"))?
            .to_bytes();
        if !status.is_success() {
            let detail: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            return Err(format!("fetching {url}: HTTP {status}: {detail}"));
        }
        String::from_utf8(body.to_vec()).map_err(|_| format!("{url}: the config is not UTF-8"))
    };
    tokio::time::timeout(Duration::from_secs(10), get)
        .await
        .map_err(|_| format!("fetching {url}: no answer within 10s"))?
}
