//! Decoding `BrachaMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::quorum::bracha::BrachaMsg>(data) {
        use palisade_core::quorum::bracha::{Bracha, BrachaCommand, BrachaConfig};
        let config = BrachaConfig::with_keys(4, 1, palisade_core::quorum::VoteKeys::Test(7)).expect("valid");
        // Every node has broadcast once when the message arrives.
        palisade_fuzz::drive_with::<Bracha>(&config, 4, &msg, |node| {
            Some(BrachaCommand::Broadcast { value: format!("from {node}").into_bytes() })
        });
    }
});
