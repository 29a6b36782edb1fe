//! Decoding `AbdMsg` from arbitrary bytes, then every replica's handlers driven with it (each mid-write when it arrives): no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::abd::AbdMsg>(data) {
        use palisade_core::abd::{Abd, AbdConfig, Command};
        palisade_fuzz::drive_with::<Abd>(&AbdConfig::default(), 3, &msg, |node| {
            Some(Command::Write { value: u64::from(node.0) })
        });
    }
});
