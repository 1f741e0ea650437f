//! Config of the `otlp` receiver (upstream `receiver/otlpreceiver`).

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{ConfigIssue, Validate};
use crate::config::duration::GoDuration;
use crate::config::tls::ServerTls;

/// `receivers: otlp:`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    pub protocols: Protocols,
}

/// `protocols:`; at least one must be present.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    #[serde(deserialize_with = "present_or_default")]
    pub grpc: Option<GrpcConfig>,
    #[serde(deserialize_with = "present_or_default")]
    pub http: Option<HttpConfig>,
}

/// `grpc:` with an empty body (`grpc:`) means all defaults.
fn present_or_default<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// `protocols: grpc:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    /// `host:port` to listen on. Default `localhost:4317`; use `0.0.0.0:4317` in containers.
    pub endpoint: String,
    /// Largest accepted message in MiB (after decompression). Default 4.
    pub max_recv_msg_size_mib: u64,
    /// HTTP/2 concurrent streams per connection (0 = unlimited).
    pub max_concurrent_streams: u32,
    pub tls: Option<ServerTls>,
    /// Accepted for compatibility; not used.
    pub read_buffer_size: Option<Value>,
    /// Accepted for compatibility; not used.
    pub write_buffer_size: Option<Value>,
    /// `keepalive.server_parameters` / `enforcement_policy` (grpc-go names).
    pub keepalive: Option<Keepalive>,
    /// Accepted for compatibility; not used.
    pub include_metadata: Option<bool>,
    /// Accepted for compatibility; not used.
    pub transport: Option<String>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            endpoint: "localhost:4317".into(),
            max_recv_msg_size_mib: 4,
            max_concurrent_streams: 0,
            tls: None,
            read_buffer_size: None,
            write_buffer_size: None,
            keepalive: None,
            include_metadata: None,
            transport: None,
        }
    }
}

/// `keepalive:` of the gRPC server.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Keepalive {
    pub server_parameters: ServerParameters,
    pub enforcement_policy: EnforcementPolicy,
}

/// `keepalive: server_parameters:`; zero or absent means "not set", as in grpc-go.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerParameters {
    /// Close a connection after this long without a byte in either direction.
    pub max_connection_idle: Option<GoDuration>,
    /// Ask clients to reconnect (GOAWAY) after this connection age.
    pub max_connection_age: Option<GoDuration>,
    /// After `max_connection_age`, how long open calls may still finish.
    pub max_connection_age_grace: Option<GoDuration>,
    /// Send an HTTP/2 PING after this long without activity (grpc-go default 2h).
    pub time: Option<GoDuration>,
    /// Close the connection when a PING is not answered within this (default 20s).
    pub timeout: Option<GoDuration>,
}

/// `keepalive: enforcement_policy:` — accepted for compatibility; Tern does not
/// police how often clients ping (hyper answers pings without rate checks).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EnforcementPolicy {
    pub min_time: Option<GoDuration>,
    pub permit_without_stream: Option<bool>,
}

/// A set duration: `None` or zero means unset.
pub fn set(d: &Option<GoDuration>) -> Option<std::time::Duration> {
    d.as_ref().map(|d| d.0).filter(|d| !d.is_zero())
}

/// `protocols: http:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `host:port` to listen on. Default `localhost:4318`.
    pub endpoint: String,
    /// Largest accepted body in bytes, compressed and after decompression. Default 20 MiB.
    pub max_request_body_size: u64,
    pub traces_url_path: String,
    pub metrics_url_path: String,
    pub logs_url_path: String,
    pub tls: Option<ServerTls>,
    /// Accepted for compatibility; not used.
    pub cors: Option<Value>,
    /// Accepted for compatibility; not used.
    pub include_metadata: Option<bool>,
    /// Accepted for compatibility; gzip, zstd and identity are always accepted.
    pub compression_algorithms: Option<Vec<String>>,
    /// Accepted for compatibility; not used.
    pub read_timeout: Option<Value>,
    /// Accepted for compatibility; not used.
    pub read_header_timeout: Option<Value>,
    /// Accepted for compatibility; not used.
    pub write_timeout: Option<Value>,
    /// Accepted for compatibility; not used.
    pub idle_timeout: Option<Value>,
    /// Accepted for compatibility; not used.
    pub response_headers: Option<Value>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: "localhost:4318".into(),
            max_request_body_size: 20 * 1024 * 1024,
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
            tls: None,
            cors: None,
            include_metadata: None,
            compression_algorithms: None,
            read_timeout: None,
            read_header_timeout: None,
            write_timeout: None,
            idle_timeout: None,
            response_headers: None,
        }
    }
}

impl HttpConfig {
    /// The path with a leading `/`, as upstream normalises it.
    pub fn normalized(path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        }
    }
}

impl Validate for OtlpReceiverConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            v.push(ConfigIssue::new(
                "",
                "must specify at least one protocol when using the OTLP receiver",
            ));
        }
        if let Some(g) = &self.protocols.grpc {
            if g.endpoint.is_empty() {
                v.push(ConfigIssue::new(
                    "protocols::grpc::endpoint",
                    "must not be empty",
                ));
            }
            if let Some(t) = &g.tls {
                v.extend(
                    t.validate()
                        .into_iter()
                        .map(|(p, m)| ConfigIssue::new(format!("protocols::grpc::{p}"), m)),
                );
            }
        }
        if let Some(h) = &self.protocols.http {
            if h.endpoint.is_empty() {
                v.push(ConfigIssue::new(
                    "protocols::http::endpoint",
                    "must not be empty",
                ));
            }
            if h.max_request_body_size == 0 {
                v.push(ConfigIssue::new(
                    "protocols::http::max_request_body_size",
                    "must be positive",
                ));
            }
            if let Some(t) = &h.tls {
                v.extend(
                    t.validate()
                        .into_iter()
                        .map(|(p, m)| ConfigIssue::new(format!("protocols::http::{p}"), m)),
                );
            }
        }
        v
    }
}
