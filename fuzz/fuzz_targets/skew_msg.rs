//! Decoding `SkewMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::clock::SkewMsg>(data) {
        let config = palisade_core::clock::SkewConfig::default();
        palisade_fuzz::drive::<palisade_core::clock::SkewMonitor>(&config, 5, &msg);
    }
});
