//! `exporters: awsxray:` — the upstream keys, plus `transport`/`daemon_address`
//! for the X-Ray daemon (UDP) mode. Validation is pure.

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{ConfigIssue, Validate};
use crate::exporter::CommonSettings;

/// Default X-Ray daemon address (as the X-Ray SDKs).
pub const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

/// `exporters: awsxray:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AwsXrayConfig {
    /// AWS region; else `AWS_REGION`/`AWS_DEFAULT_REGION`, else IMDSv2 (unless `local_mode`).
    pub region: String,
    /// Overrides the X-Ray endpoint (`https://xray.<region>.amazonaws.com`).
    pub endpoint: String,
    /// Role to assume through STS for the calls.
    pub role_arn: String,
    /// External ID for `role_arn`.
    pub external_id: String,
    /// Attribute keys that become annotations (indexed, searchable).
    pub indexed_attributes: Vec<String>,
    /// Every scalar attribute becomes an annotation.
    pub index_all_attributes: bool,
    /// CloudWatch log groups for `aws.cloudwatch_logs` when the resource names none.
    pub aws_log_groups: Vec<String>,
    /// Maximum `PutTraceSegments` calls in flight per batch.
    pub num_workers: usize,
    /// Timeout of one HTTP attempt, in seconds.
    pub request_timeout_seconds: u64,
    /// Accepted for compatibility (upstream: the AWS SDK's `MaxAttempts`); not
    /// used: `retry_on_failure` is the only retry layer.
    pub max_retries: u32,
    /// Never ask EC2 instance metadata for the region.
    pub local_mode: bool,
    /// HTTP(S) proxy for the X-Ray API (else `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`).
    pub proxy_address: String,
    /// Disabling TLS verification is not supported (only `false` is accepted).
    pub no_verify_ssl: bool,
    /// Accepted for compatibility (upstream uses it only for telemetry records).
    pub resource_arn: String,
    /// `api` (default): `PutTraceSegments`. `udp`: datagrams to an X-Ray daemon.
    pub transport: String,
    /// Daemon address for `transport: udp`; else `AWS_XRAY_DAEMON_ADDRESS`, else 127.0.0.1:2000.
    pub daemon_address: String,
    /// Accepted for compatibility; not used.
    pub imds_retries: Option<u32>,
    /// Upstream's X-Ray telemetry records; only `enabled: false` is accepted.
    pub telemetry: Option<Value>,
    #[serde(flatten)]
    pub common: CommonSettings,
}

impl Default for AwsXrayConfig {
    fn default() -> Self {
        AwsXrayConfig {
            region: String::new(),
            endpoint: String::new(),
            role_arn: String::new(),
            external_id: String::new(),
            indexed_attributes: Vec::new(),
            index_all_attributes: false,
            aws_log_groups: Vec::new(),
            num_workers: 8,
            request_timeout_seconds: 30,
            max_retries: 2,
            local_mode: false,
            proxy_address: String::new(),
            no_verify_ssl: false,
            resource_arn: String::new(),
            transport: "api".into(),
            daemon_address: String::new(),
            imds_retries: None,
            telemetry: None,
            common: CommonSettings::default(),
        }
    }
}

/// Where documents go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Api,
    Udp,
}

impl AwsXrayConfig {
    pub fn transport(&self) -> Option<Transport> {
        match self.transport.as_str() {
            "" | "api" | "https" => Some(Transport::Api),
            "udp" => Some(Transport::Udp),
            _ => None,
        }
    }
}

fn valid_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://"))
        && u.parse::<http::Uri>().is_ok_and(|uri| uri.host().is_some())
}

impl Validate for AwsXrayConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = self.common.validate();
        if self.transport().is_none() {
            v.push(ConfigIssue::new(
                "transport",
                format!(
                    "unknown transport {:?} (supported: api, udp)",
                    self.transport
                ),
            ));
        }
        if self.num_workers == 0 {
            v.push(ConfigIssue::new(
                "num_workers",
                "`num_workers` must be positive",
            ));
        }
        if self.request_timeout_seconds == 0 {
            v.push(ConfigIssue::new(
                "request_timeout_seconds",
                "`request_timeout_seconds` must be positive",
            ));
        }
        if !self.endpoint.is_empty() && !valid_url(&self.endpoint) {
            v.push(ConfigIssue::new(
                "endpoint",
                format!(
                    "invalid URL {:?}: must be http:// or https://",
                    self.endpoint
                ),
            ));
        }
        if !self.proxy_address.is_empty() && !valid_url(&self.proxy_address) {
            v.push(ConfigIssue::new(
                "proxy_address",
                format!(
                    "invalid proxy URL {:?}: must be http:// or https://",
                    self.proxy_address
                ),
            ));
        }
        if !self.role_arn.is_empty() && !self.role_arn.starts_with("arn:") {
            v.push(ConfigIssue::new(
                "role_arn",
                format!("{:?} is not an ARN", self.role_arn),
            ));
        }
        if !self.external_id.is_empty() && self.role_arn.is_empty() {
            v.push(ConfigIssue::new(
                "external_id",
                "`external_id` needs `role_arn`",
            ));
        }
        if self.no_verify_ssl {
            v.push(ConfigIssue::new(
                "no_verify_ssl",
                "turning TLS verification off is not supported; use a trusted certificate",
            ));
        }
        if !self.daemon_address.is_empty() && parse_daemon_address(&self.daemon_address).is_none() {
            v.push(ConfigIssue::new(
                "daemon_address",
                format!(
                    "invalid daemon address {:?} (expected host:port)",
                    self.daemon_address
                ),
            ));
        }
        if let Some(t) = &self.telemetry {
            let enabled = t.get("enabled").and_then(Value::as_bool).unwrap_or(false);
            if enabled {
                v.push(ConfigIssue::new(
                    "telemetry::enabled",
                    "X-Ray telemetry records are not supported (only `enabled: false`)",
                ));
            }
        }
        v
    }
}

/// The UDP `host:port` of an X-Ray daemon address: `host:port`, or the
/// two-address form `tcp:host:port udp:host:port`.
pub fn parse_daemon_address(s: &str) -> Option<(String, u16)> {
    let s = s.trim();
    let part = if s.contains(' ') {
        s.split_whitespace().find_map(|p| p.strip_prefix("udp:"))?
    } else {
        s.strip_prefix("udp:").unwrap_or(s)
    };
    let (host, port) = part.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::parse_config;

    fn issues(yaml: &str) -> Vec<String> {
        let raw: Value = serde_yaml_ng::from_str(yaml).unwrap();
        match parse_config::<AwsXrayConfig>("exporters::awsxray", &raw) {
            Ok(_) => Vec::new(),
            Err(v) => v.into_iter().map(|i| i.to_string()).collect(),
        }
    }

    #[test]
    fn upstream_keys_parse_with_defaults() {
        let raw: Value = serde_yaml_ng::from_str(
            "region: us-west-2\nendpoint: http://127.0.0.1:5000\nrole_arn: arn:aws:iam::1:role/x\n\
             external_id: e\nindexed_attributes: [a]\nindex_all_attributes: false\n\
             aws_log_groups: [g]\nnum_workers: 4\nrequest_timeout_seconds: 5\nmax_retries: 1\n\
             local_mode: true\nproxy_address: http://proxy:3128\nno_verify_ssl: false\n\
             resource_arn: arn:aws:ec2:r\nimds_retries: 2\ntelemetry: {enabled: false}\n\
             sending_queue: {queue_size: 10}\nretry_on_failure: {enabled: true}\n",
        )
        .unwrap();
        let c = parse_config::<AwsXrayConfig>("p", &raw).unwrap();
        assert_eq!(c.num_workers, 4);
        assert_eq!(c.transport(), Some(Transport::Api));
        assert_eq!(c.common.sending_queue.queue_size, 10);
        assert_eq!(AwsXrayConfig::default().max_retries, 2);
    }

    #[test]
    fn validation_errors_carry_paths() {
        let e = issues(
            "transport: tcp\nnum_workers: 0\nendpoint: ftp://x\nno_verify_ssl: true\n\
             external_id: x\ndaemon_address: nope\ntelemetry: {enabled: true}\nbogus: 1\n",
        );
        assert_eq!(e.len(), 1, "unknown key first: {e:?}");
        assert!(e[0].contains("bogus"), "{e:?}");
        let e = issues(
            "transport: tcp\nnum_workers: 0\nendpoint: ftp://x\nno_verify_ssl: true\n\
             external_id: x\ndaemon_address: nope\ntelemetry: {enabled: true}\n",
        );
        for key in [
            "transport",
            "num_workers",
            "endpoint",
            "no_verify_ssl",
            "external_id",
            "daemon_address",
            "telemetry::enabled",
        ] {
            assert!(
                e.iter()
                    .any(|m| m.starts_with(&format!("exporters::awsxray::{key}:"))),
                "{key}: {e:?}"
            );
        }
    }

    #[test]
    fn daemon_addresses() {
        assert_eq!(
            parse_daemon_address("127.0.0.1:2000"),
            Some(("127.0.0.1".into(), 2000))
        );
        assert_eq!(
            parse_daemon_address("tcp:10.0.0.1:2000 udp:10.0.0.2:2001"),
            Some(("10.0.0.2".into(), 2001))
        );
        assert_eq!(
            parse_daemon_address("[::1]:2000"),
            Some(("::1".into(), 2000))
        );
        assert_eq!(parse_daemon_address("localhost"), None);
    }
}
