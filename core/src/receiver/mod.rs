//! Receivers: accept telemetry from applications and hand it to pipelines.

pub mod otlp;
pub mod telemetryapi;
