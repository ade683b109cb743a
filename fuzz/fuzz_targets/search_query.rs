#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| privtrail_fuzz::search_query(data));
