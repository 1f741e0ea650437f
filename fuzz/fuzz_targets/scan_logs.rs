//! The protobuf scanner on logs export requests, cross-checked against prost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_core::otlp::scan::Msg;
use tern_core::otlp::Logs;

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_scan::<Logs>(Msg::ExportLogs, data);
});
