//! Decoding `RegisterMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    palisade_fuzz::decode_roundtrip::<palisade_core::quorum::register::RegisterMsg>(data);
    if let Ok(msg) = palisade_core::codec::Codec::decode::<palisade_core::quorum::register::RegisterMsg>(
        &palisade_core::codec::Bincode,
        data,
    ) {
        let config = palisade_core::quorum::register::RegisterConfig {
            system: palisade_core::quorum::QuorumSystem::new(
                palisade_core::quorum::QuorumKind::Dissemination,
                4,
                1,
            )
            .expect("valid"),
            servers: 4,
            cluster_seed: 7,
            op_every: std::time::Duration::from_millis(200),
            resend_every: std::time::Duration::from_millis(300),
        };
        palisade_fuzz::drive::<palisade_core::quorum::register::Register>(&config, 7, &msg);
    }
});
