#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dashpack_fuzz::report(data));
