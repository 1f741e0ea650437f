//! The OTLP/JSON logs decoder; accepted requests must re-encode to protobuf the scanner accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::otlp::scan::Msg;
use tern_core::otlp::{json, Logs};

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_json::<Logs>(Msg::ExportLogs, json::decode_logs, data);
});
