//! The protobuf scanner on metrics export requests, cross-checked against prost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::otlp::scan::Msg;
use tern_core::otlp::Metrics;

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_scan::<Metrics>(Msg::ExportMetrics, data);
});
