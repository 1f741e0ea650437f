//! Config of the `telemetryapi` receiver. It has no keys of its own: inside the
//! Lambda extension the Telemetry API subscription is the extension's (one
//! listener serves the lifecycle and every `telemetryapi` receiver).

use serde::Deserialize;

use crate::component::Validate;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TelemetryApiConfig {}

impl Validate for TelemetryApiConfig {}
