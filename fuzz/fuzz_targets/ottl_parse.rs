//! OTTL condition and statement compilation, every context of every signal; input is lossy UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tern_fuzz::check_ottl(data);
});
