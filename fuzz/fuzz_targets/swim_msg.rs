//! Decoding `SwimMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::detector::swim::SwimMsg>(data) {
        let config = palisade_core::detector::swim::SwimConfig::default();
        palisade_fuzz::drive::<palisade_core::detector::swim::Swim>(&config, 8, &msg);
    }
});
