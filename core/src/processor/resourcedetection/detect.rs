//! The detectors' pure part: their names, the keys each may set, and the
//! mapping from what a platform reports (environment, metadata documents,
//! files) to resource attributes. No I/O here.

use crate::aws::ecs_metadata::{ContainerMetadata, TaskMetadata};
use crate::aws::imds::IdentityDocument;

/// A detected attribute value (upstream sets strings and string slices only).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    StrList(Vec<String>),
}

/// Detected attributes, in the order the detector set them.
pub type Attributes = Vec<(String, AttrValue)>;

fn s(key: &str, v: impl Into<String>) -> (String, AttrValue) {
    (key.to_string(), AttrValue::Str(v.into()))
}

/// The detectors Tern has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    Env,
    System,
    Ec2,
    Ecs,
    Lambda,
    ElasticBeanstalk,
}

/// Names accepted in `detectors`.
pub const SUPPORTED: [&str; 6] = ["env", "system", "ec2", "ecs", "lambda", "elastic_beanstalk"];

const EC2_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.platform",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "host.id",
    "host.image.id",
    "host.type",
    "host.name",
];
const ECS_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.platform",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "aws.ecs.cluster.arn",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.id",
    "aws.ecs.task.revision",
    "aws.ecs.launchtype",
    "aws.log.group.names",
    "aws.log.group.arns",
    "aws.log.stream.names",
    "aws.log.stream.arns",
];
const LAMBDA_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.platform",
    "cloud.region",
    "faas.name",
    "faas.version",
    "faas.instance",
    "faas.max_memory",
    "aws.log.group.names",
    "aws.log.stream.names",
];
const SYSTEM_KEYS: &[&str] = &["host.name", "os.type", "host.id", "host.arch"];
/// Upstream `system` attributes Tern does not produce (enabling one is an error).
const SYSTEM_UNSUPPORTED: &[&str] = &[
    "host.ip",
    "host.mac",
    "host.interface",
    "host.cpu.vendor.id",
    "host.cpu.family",
    "host.cpu.model.id",
    "host.cpu.model.name",
    "host.cpu.stepping",
    "host.cpu.cache.l2.size",
    "os.description",
    "os.name",
    "os.version",
    "os.build.id",
];
const EB_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.platform",
    "deployment.environment",
    "service.instance.id",
    "service.version",
];

impl Detector {
    pub fn from_name(name: &str) -> Option<Detector> {
        Some(match name {
            "env" => Detector::Env,
            "system" => Detector::System,
            "ec2" => Detector::Ec2,
            "ecs" => Detector::Ecs,
            "lambda" => Detector::Lambda,
            "elastic_beanstalk" => Detector::ElasticBeanstalk,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Detector::Env => "env",
            Detector::System => "system",
            Detector::Ec2 => "ec2",
            Detector::Ecs => "ecs",
            Detector::Lambda => "lambda",
            Detector::ElasticBeanstalk => "elastic_beanstalk",
        }
    }

    /// Every key this detector can set (`env` sets whatever the variable says).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Detector::Env => &[],
            Detector::System => SYSTEM_KEYS,
            Detector::Ec2 => EC2_KEYS,
            Detector::Ecs => ECS_KEYS,
            Detector::Lambda => LAMBDA_KEYS,
            Detector::ElasticBeanstalk => EB_KEYS,
        }
    }

    /// Upstream keys of this detector that Tern does not produce.
    pub fn unsupported_keys(self) -> &'static [&'static str] {
        match self {
            Detector::System => SYSTEM_UNSUPPORTED,
            _ => &[],
        }
    }

    /// Whether `key` is on when the config says nothing about it.
    pub fn default_on(self, key: &str) -> bool {
        match self {
            Detector::Env => true,
            Detector::System => matches!(key, "host.name" | "os.type"),
            _ => self.keys().contains(&key),
        }
    }
}

/// Why the `env` detector refused `OTEL_RESOURCE_ATTRIBUTES`.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("invalid resource attributes in {var}: {message}")]
pub struct EnvError {
    pub var: &'static str,
    pub message: String,
}

/// `env`: `OTEL_RESOURCE_ATTRIBUTES` (else the deprecated `OTEL_RESOURCE`):
/// `k=v` pairs separated by commas, spaces trimmed, values percent-decoded
/// (`+` is a space). Any malformed pair rejects the whole variable.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Attributes, EnvError> {
    let (var, text) = match env("OTEL_RESOURCE_ATTRIBUTES") {
        Some(t) => ("OTEL_RESOURCE_ATTRIBUTES", t),
        None => match env("OTEL_RESOURCE") {
            Some(t) => ("OTEL_RESOURCE", t),
            None => return Ok(Vec::new()),
        },
    };
    let err = |message: String| EnvError { var, message };
    let mut out = Vec::new();
    for pair in text.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| err(format!("missing value in {pair:?}")))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.len() > 256 || !k.is_ascii() {
            return Err(err(format!(
                "invalid key {k:?} (1 to 256 ASCII characters)"
            )));
        }
        let v = query_unescape(v)
            .ok_or_else(|| err(format!("invalid escape in the value of {k:?}")))?;
        if v.len() > 256 {
            return Err(err(format!("value of {k:?} is longer than 256 characters")));
        }
        out.push(s(k, v));
    }
    Ok(out)
}

/// Go's `url.QueryUnescape`: `%XX` decoded, `+` is a space, result must be UTF-8.
fn query_unescape(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, k: &str) -> Option<String> {
    env(k).filter(|v| !v.is_empty())
}

/// `lambda`: the function's environment only; nothing outside Lambda.
pub fn from_lambda_env(env: &dyn Fn(&str) -> Option<String>) -> Attributes {
    let Some(name) = non_empty(env, "AWS_LAMBDA_FUNCTION_NAME") else {
        return Vec::new();
    };
    let mut out = vec![
        s("cloud.provider", "aws"),
        s("cloud.platform", "aws_lambda"),
    ];
    if let Some(r) = non_empty(env, "AWS_REGION") {
        out.push(s("cloud.region", r));
    }
    out.push(s("faas.name", name));
    for (key, var) in [
        ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ("faas.instance", "AWS_LAMBDA_LOG_STREAM_NAME"),
        ("faas.max_memory", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
    ] {
        if let Some(v) = non_empty(env, var) {
            out.push(s(key, v));
        }
    }
    if let Some(g) = non_empty(env, "AWS_LAMBDA_LOG_GROUP_NAME") {
        out.push(("aws.log.group.names".into(), AttrValue::StrList(vec![g])));
    }
    if let Some(st) = non_empty(env, "AWS_LAMBDA_LOG_STREAM_NAME") {
        out.push(("aws.log.stream.names".into(), AttrValue::StrList(vec![st])));
    }
    out
}

/// `ec2`: the identity document and the instance's host name.
pub fn from_ec2(doc: &IdentityDocument, hostname: &str) -> Attributes {
    let mut out = vec![s("cloud.provider", "aws"), s("cloud.platform", "aws_ec2")];
    for (k, v) in [
        ("cloud.account.id", &doc.account_id),
        ("cloud.region", &doc.region),
        ("cloud.availability_zone", &doc.availability_zone),
        ("host.id", &doc.instance_id),
        ("host.image.id", &doc.image_id),
        ("host.type", &doc.instance_type),
    ] {
        out.push(s(k, v.as_str()));
    }
    if !hostname.is_empty() {
        out.push(s("host.name", hostname));
    }
    out
}

/// `ecs`: the task document and this container's (whose own logs are left out, as upstream).
pub fn from_ecs(task: &TaskMetadata, this: &ContainerMetadata) -> Attributes {
    let arn: Vec<&str> = task.task_arn.splitn(6, ':').collect();
    let part = |i: usize| arn.get(i).copied().unwrap_or_default();
    let (partition, region, account) = (part(1), part(3), part(4));
    let mut out = vec![s("cloud.provider", "aws"), s("cloud.platform", "aws_ecs")];
    if !account.is_empty() {
        out.push(s("cloud.account.id", account));
    }
    if !region.is_empty() {
        out.push(s("cloud.region", region));
    }
    if let Some(az) = task.availability_zone.as_deref().filter(|a| !a.is_empty()) {
        out.push(s("cloud.availability_zone", az));
    }
    if !task.cluster.is_empty() {
        let cluster = if task.cluster.contains(':') {
            task.cluster.clone()
        } else {
            format!(
                "arn:{partition}:ecs:{region}:{account}:cluster/{}",
                task.cluster
            )
        };
        out.push(s("aws.ecs.cluster.arn", cluster));
    }
    out.push(s("aws.ecs.task.arn", task.task_arn.as_str()));
    out.push(s("aws.ecs.task.family", task.family.as_str()));
    let id = part(5).rsplit('/').next().unwrap_or_default();
    if !id.is_empty() {
        out.push(s("aws.ecs.task.id", id));
    }
    out.push(s("aws.ecs.task.revision", task.revision.as_str()));
    if let Some(lt) = task.launch_type.as_deref() {
        let lt = lt.to_ascii_lowercase();
        if lt == "ec2" || lt == "fargate" {
            out.push(s("aws.ecs.launchtype", lt));
        }
    }
    let (mut groups, mut group_arns, mut streams, mut stream_arns) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in &task.containers {
        let eligible = c.kind.as_deref() == Some("NORMAL")
            && c.known_status == "RUNNING"
            && c.log_driver.as_deref() == Some("awslogs")
            && c.docker_id != this.docker_id;
        let group = c.log_options.get("awslogs-group").filter(|g| !g.is_empty());
        let Some(group) = group.filter(|_| eligible) else {
            continue;
        };
        let r = c
            .log_options
            .get("awslogs-region")
            .map(String::as_str)
            .filter(|r| !r.is_empty())
            .unwrap_or(region);
        let group_arn = format!("arn:{partition}:logs:{r}:{account}:log-group:{group}");
        groups.push(group.clone());
        if let Some(stream) = c
            .log_options
            .get("awslogs-stream")
            .filter(|s| !s.is_empty())
        {
            streams.push(stream.clone());
            stream_arns.push(format!("{group_arn}:log-stream:{stream}"));
        }
        group_arns.push(group_arn);
    }
    for (k, list) in [
        ("aws.log.group.names", groups),
        ("aws.log.group.arns", group_arns),
        ("aws.log.stream.names", streams),
        ("aws.log.stream.arns", stream_arns),
    ] {
        if !list.is_empty() {
            out.push((k.to_string(), AttrValue::StrList(list)));
        }
    }
    out
}

/// Elastic Beanstalk's `environment.conf`.
#[derive(Debug, serde::Deserialize)]
struct EbEnvironment {
    #[serde(default)]
    deployment_id: i64,
    #[serde(default)]
    environment_name: String,
    #[serde(default)]
    version_label: String,
}

/// `elastic_beanstalk`: the environment file's content.
pub fn from_elastic_beanstalk(body: &[u8]) -> Result<Attributes, String> {
    let e: EbEnvironment =
        serde_json::from_slice(body).map_err(|e| format!("not the expected JSON document: {e}"))?;
    Ok(vec![
        s("cloud.provider", "aws"),
        s("cloud.platform", "aws_elastic_beanstalk"),
        s("deployment.environment", e.environment_name),
        s("service.instance.id", e.deployment_id.to_string()),
        s("service.version", e.version_label),
    ])
}

/// The semantic-convention `os.type` of this build's target.
pub fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The semantic-convention `host.arch` of this build's target.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc32",
        other => other,
    }
}
