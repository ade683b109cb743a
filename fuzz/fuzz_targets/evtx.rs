#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| privtrail_fuzz::read_as(privtrail_ingest::Format::Evtx, data));
