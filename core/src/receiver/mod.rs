//! Receivers: accept telemetry from applications and hand it to pipelines.

pub(crate) mod accounting;
pub mod otlp;
pub mod telemetryapi;
