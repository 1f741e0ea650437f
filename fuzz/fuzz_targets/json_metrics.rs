//! The OTLP/JSON metrics decoder; accepted requests must re-encode to protobuf the scanner accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::otlp::scan::Msg;
use tern_core::otlp::{json, Metrics};

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_json::<Metrics>(Msg::ExportMetrics, json::decode_metrics, data);
});
