#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| devnet::store::fuzzing::stored(data));
