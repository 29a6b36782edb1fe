//! Decoding `LockMsg` from arbitrary bytes, then every role's handlers driven with it (each node asking for a lock when it arrives): no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::lock::LockMsg>(data) {
        use palisade_core::lock::{LockCommand, LockConfig, Locks};
        palisade_fuzz::drive_with::<Locks>(&LockConfig::default(), 5, &msg, |_| {
            Some(LockCommand::Acquire { name: "a".into(), within: std::time::Duration::from_secs(5) })
        });
    }
});
