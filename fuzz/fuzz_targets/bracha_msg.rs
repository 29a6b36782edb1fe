//! Decoding `BrachaMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    palisade_fuzz::decode_roundtrip::<palisade_core::quorum::bracha::BrachaMsg>(data);
    if let Ok(msg) = palisade_core::codec::Codec::decode::<palisade_core::quorum::bracha::BrachaMsg>(
        &palisade_core::codec::Bincode,
        data,
    ) {
        let config = palisade_core::quorum::bracha::BrachaConfig::new(4, 1, 7).expect("valid");
        palisade_fuzz::drive::<palisade_core::quorum::bracha::Bracha>(&config, 4, &msg);
    }
});
