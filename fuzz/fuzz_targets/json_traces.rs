//! The OTLP/JSON traces decoder; accepted requests must re-encode to protobuf the scanner accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::otlp::scan::Msg;
use tern_core::otlp::{json, Traces};

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_json::<Traces>(Msg::ExportTraces, json::decode_traces, data);
});
