//! The detectors' I/O: runs the configured detectors concurrently within the
//! `timeout`, retrying a failing one with backoff until the deadline, and
//! merges their results in list order (the first to set a key wins).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::ecs_metadata::{self, EcsMetadata};
use crate::aws::imds::{self, Imds};
use crate::aws::metadata::{MetadataError, MetadataHttp};

use super::config::ResourceDetectionConfig;
use super::detect::{self, AttrValue, Attributes, Detector};

/// Reads an environment variable (injected so tests need not touch the process's).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where the detectors look.
#[derive(Clone)]
pub struct Sources {
    pub env: EnvLookup,
    /// Elastic Beanstalk's environment file.
    pub beanstalk_file: PathBuf,
    /// The kernel's host name (`system`, source `os`).
    pub hostname_file: PathBuf,
    /// The machine ID (`system`, `host.id`).
    pub machine_id_file: PathBuf,
}

impl Sources {
    /// The real process environment and files.
    pub fn real() -> Self {
        Sources {
            env: Arc::new(|k| std::env::var(k).ok()),
            beanstalk_file: PathBuf::from(if cfg!(windows) {
                r"C:\Program Files\Amazon\XRay\environment.conf"
            } else {
                "/var/elasticbeanstalk/xray/environment.conf"
            }),
            hostname_file: PathBuf::from("/proc/sys/kernel/hostname"),
            machine_id_file: PathBuf::from("/etc/machine-id"),
        }
    }
}

/// A detector that could not produce its attributes.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("{0}")]
    Other(String),
}

impl DetectError {
    /// Metadata services may recover (an agent still starting); a malformed
    /// environment variable or file will not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DetectError::Metadata(_))
    }
}

/// How long an instance metadata probe may take (the SDKs' IMDS timeout).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// First retry delay of a failing detector (doubles each time).
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// Runs the configured detectors and merges their results.
pub async fn detect_all(
    cfg: &ResourceDetectionConfig,
    src: &Sources,
    id: &str,
) -> Result<Attributes, String> {
    let deadline = Instant::now() + cfg.timeout.0;
    let http = MetadataHttp::new().map_err(|e| format!("metadata HTTP client: {e}"))?;
    let runs = cfg.detector_list().into_iter().map(|d| {
        let http = http.clone();
        async move {
            let r = detect_with_retry(d, cfg, src, &http, deadline, id).await;
            (d, r)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let mut merged: Attributes = Vec::new();
    for (d, r) in results {
        let attrs = r.map_err(|e| format!("detector `{}`: {e}", d.name()))?;
        tracing::debug!(processor = %id, detector = d.name(), attributes = attrs.len(), "Resource detected.");
        for (k, v) in attrs {
            if !cfg.enabled(d, &k) || merged.iter().any(|(m, _)| *m == k) {
                continue;
            }
            if !cfg.attributes.is_empty() && !cfg.attributes.contains(&k) {
                continue;
            }
            merged.push((k, v));
        }
    }
    Ok(merged)
}

async fn detect_with_retry(
    d: Detector,
    cfg: &ResourceDetectionConfig,
    src: &Sources,
    http: &MetadataHttp,
    deadline: Instant,
    id: &str,
) -> Result<Attributes, DetectError> {
    let attempts = async {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match detect_one(d, cfg, src, http, deadline).await {
                Ok(a) => return Ok(a),
                Err(e) if e.is_retryable() && Instant::now() + backoff < deadline => {
                    tracing::warn!(processor = %id, detector = d.name(), error = %e, retry_in = ?backoff, "Resource detection failed, retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(e) => return Err(e),
            }
        }
    };
    match tokio::time::timeout_at(deadline, attempts).await {
        Ok(r) => r,
        Err(_) => Err(DetectError::Other(format!(
            "no result within the timeout of {:?}",
            cfg.timeout.0
        ))),
    }
}

async fn detect_one(
    d: Detector,
    cfg: &ResourceDetectionConfig,
    src: &Sources,
    http: &MetadataHttp,
    deadline: Instant,
) -> Result<Attributes, DetectError> {
    let env = &*src.env;
    // Requests end before the overall deadline, so their error (naming the endpoint) is what is reported.
    let remaining = deadline.saturating_duration_since(Instant::now()) * 9 / 10;
    match d {
        Detector::Env => detect::from_env(env).map_err(|e| DetectError::Other(e.to_string())),
        Detector::Lambda => Ok(detect::from_lambda_env(env)),
        Detector::System => system(cfg, src),
        Detector::ElasticBeanstalk => match std::fs::read(&src.beanstalk_file) {
            Ok(body) => detect::from_elastic_beanstalk(&body)
                .map_err(|e| DetectError::Other(format!("{}: {e}", src.beanstalk_file.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(DetectError::Other(format!(
                "{}: {e}",
                src.beanstalk_file.display()
            ))),
        },
        Detector::Ecs => {
            let Some(base) = ecs_metadata::endpoint_from(env) else {
                return Ok(Vec::new());
            };
            let c = EcsMetadata::new(http.clone(), &base, remaining);
            let (task, this) = tokio::join!(c.task(), c.container());
            Ok(detect::from_ecs(&task?, &this?))
        }
        Detector::Ec2 => {
            let fail_on_missing = cfg.fail_on_missing_metadata || cfg.ec2.fail_on_missing_metadata;
            if env("AWS_LAMBDA_FUNCTION_NAME").is_some_and(|v| !v.is_empty()) {
                return Ok(Vec::new());
            }
            let Some(base) = imds::endpoint_from(env) else {
                return Ok(Vec::new());
            };
            let c = Imds::new(http.clone(), &base, remaining);
            match c
                .get_within(imds::PATH_INSTANCE_ID, remaining.min(PROBE_TIMEOUT))
                .await
            {
                Ok(_) => {}
                Err(e) if !fail_on_missing => {
                    tracing::info!(endpoint = %base, error = %e, "No EC2 instance metadata; the ec2 detector adds nothing.");
                    return Ok(Vec::new());
                }
                Err(e) => return Err(e.into()),
            }
            let (doc, host) = tokio::join!(c.identity(), c.get_text(imds::PATH_HOSTNAME));
            Ok(detect::from_ec2(&doc?, &host?))
        }
    }
}

fn system(cfg: &ResourceDetectionConfig, src: &Sources) -> Result<Attributes, DetectError> {
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .map_err(|e| DetectError::Other(format!("{}: {e}", p.display())))
    };
    let mut out = Vec::new();
    if cfg.enabled(Detector::System, "host.name") {
        let name = read(&src.hostname_file)?;
        if name.is_empty() {
            return Err(DetectError::Other("the host name is empty".into()));
        }
        out.push(("host.name".to_string(), AttrValue::Str(name)));
    }
    if cfg.enabled(Detector::System, "host.id") {
        out.push((
            "host.id".to_string(),
            AttrValue::Str(read(&src.machine_id_file)?),
        ));
    }
    out.push(("os.type".into(), AttrValue::Str(detect::os_type().into())));
    out.push((
        "host.arch".into(),
        AttrValue::Str(detect::host_arch().into()),
    ));
    Ok(out)
}
