//! The `health_check` extension (upstream `extension/healthcheckextension`):
//! `GET /` answers 200 once every pipeline runs, 503 while starting or stopping.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ExtensionConfig,
    ExtensionFactory, Health, Running, Validate,
};
use crate::config::tls::ServerTls;
use crate::net::{self, response};
use crate::pipeline::stage::BoxFuture;

/// `extensions: health_check:`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    /// `host:port`. Default `localhost:13133`.
    pub endpoint: String,
    /// Path answered. Default `/`.
    pub path: String,
    /// Custom bodies instead of the JSON status.
    pub response_body: Option<ResponseBody>,
    pub tls: Option<ServerTls>,
    /// Accepted for compatibility; not implemented (legacy upstream option).
    pub check_collector_pipeline: Option<Value>,
}

/// `response_body: {healthy, unhealthy}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseBody {
    pub healthy: String,
    pub unhealthy: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            path: "/".into(),
            response_body: None,
            tls: None,
            check_collector_pipeline: None,
        }
    }
}

impl Validate for HealthCheckConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if !self.path.starts_with('/') {
            v.push(ConfigIssue::new("path", "path must start with /"));
        }
        if let Some(t) = &self.tls {
            v.extend(
                t.validate()
                    .into_iter()
                    .map(|(p, m)| ConfigIssue::new(p, m)),
            );
        }
        v
    }
}

/// Factory of the `health_check` extension.
pub struct HealthCheckFactory;

impl ExtensionFactory for HealthCheckFactory {
    fn type_name(&self) -> &'static str {
        "health_check"
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ExtensionConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<HealthCheckConfig>(prefix, raw)?))
    }
}

impl ExtensionConfig for HealthCheckConfig {
    fn start<'a>(
        &'a self,
        ctx: &'a BuildContext,
        id: &'a ComponentId,
    ) -> BoxFuture<'a, Result<Box<dyn Running>, BuildError>> {
        Box::pin(async move {
            let cfg = self;
            let listener = net::bind(&cfg.endpoint)
                .await
                .map_err(|e| BuildError::new(id, e))?;
            let tls = match &cfg.tls {
                Some(t) => crate::config::tls::build::server(t, &[b"http/1.1"])
                    .map_err(|e| BuildError::new(id, e))?,
                None => None,
            };
            let health = ctx.health.clone();
            let path: Arc<str> = cfg.path.clone().into();
            let bodies = cfg.response_body.clone();
            let handler: net::Handler = Arc::new(move |req| {
                let ready = health.is_ready();
                let body = if req.uri().path() != &*path {
                    None
                } else {
                    Some(match &bodies {
                        Some(b) => (
                            if ready { 200 } else { 503 },
                            "text/plain; charset=utf-8",
                            if ready {
                                b.healthy.clone()
                            } else {
                                b.unhealthy.clone()
                            },
                        ),
                        None => (
                            if ready { 200 } else { 503 },
                            "application/json",
                            status_json(&health, ready),
                        ),
                    })
                };
                Box::pin(async move {
                    match body {
                        Some((code, ct, text)) => response(code, ct, text),
                        None => response(404, "text/plain; charset=utf-8", "404 page not found\n"),
                    }
                })
            });
            tracing::info!(extension = %id, endpoint = %cfg.endpoint, "Starting health_check extension.");
            Ok(Box::new(RunningHealth(net::serve(
                listener,
                tls,
                handler,
                Duration::from_secs(1),
            ))) as Box<dyn Running>)
        })
    }
}

fn status_json(health: &Health, ready: bool) -> String {
    if !ready {
        return r#"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#
            .to_string();
    }
    let up_since = humantime::format_rfc3339_nanos(health.up_since()).to_string();
    let uptime = crate::config::duration::format_go(health.uptime());
    serde_json::json!({ "status": "Server available", "upSince": up_since, "uptime": uptime })
        .to_string()
}

struct RunningHealth(net::Server);

impl Running for RunningHealth {
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.0.shutdown(Duration::from_millis(500)))
    }
}
