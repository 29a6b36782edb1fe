//! Decoding `LeaseMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    palisade_fuzz::decode_roundtrip::<palisade_core::lease::LeaseMsg>(data);
    if let Ok(msg) = palisade_core::codec::Codec::decode::<palisade_core::lease::LeaseMsg>(
        &palisade_core::codec::Bincode,
        data,
    ) {
        let config = palisade_core::lease::LeaseConfig::default();
        palisade_fuzz::drive::<palisade_core::lease::SingleGrantorLockService>(&config, 5, &msg);
    }
});
