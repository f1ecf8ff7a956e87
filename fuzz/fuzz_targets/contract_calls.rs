#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| chain::fuzzing::calls(data));
