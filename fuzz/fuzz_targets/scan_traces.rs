//! The protobuf scanner on traces export requests, cross-checked against prost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::otlp::scan::Msg;
use tern_core::otlp::Traces;

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_scan::<Traces>(Msg::ExportTraces, data);
});
