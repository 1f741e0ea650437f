//! `compression::decompress` with a 64 KiB limit; the first byte selects gzip, zstd or deflate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_decompress(data);
});
