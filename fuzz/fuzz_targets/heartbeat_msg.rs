//! Decoding `HeartbeatMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::detector::HeartbeatMsg>(data) {
        let config = palisade_core::detector::HeartbeatConfig::default().with_pause_guard();
        palisade_fuzz::drive::<palisade_core::detector::Heartbeat<palisade_core::detector::PhiAccrual>>(
            &config, 4, &msg,
        );
    }
});
