//! Decoding `ElectionMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::lease::election::ElectionMsg>(data) {
        let config = palisade_core::lease::LeaseConfig::default().resource(palisade_core::NodeId(6));
        palisade_fuzz::drive::<palisade_core::lease::election::Election>(&config, 6, &msg);
    }
});
