//! Decoding `BrachaMsg` from arbitrary bytes: no panic, canonical round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    palisade_fuzz::decode_roundtrip::<palisade_core::quorum::bracha::BrachaMsg>(data);
});
