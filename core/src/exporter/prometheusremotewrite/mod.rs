//! The `prometheusremotewrite` exporter (alias `prometheus_remote_write`): OTLP
//! metrics as Prometheus remote-write 1.0 requests
//! (<https://prometheus.io/docs/specs/remote_write_spec/>), snappy-compressed,
//! optionally SigV4-signed for Amazon Managed Prometheus.

pub mod delta;
pub mod encode;
pub mod naming;
pub mod proto;
pub mod translate;

#[cfg(test)]
mod tests;
