//! Decoding `RegisterMsg` from arbitrary bytes, then every role's handlers driven with it: no panic, canonical round trip in both codecs, bounded work.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for msg in palisade_fuzz::decoded::<palisade_core::quorum::register::RegisterMsg>(data) {
        use palisade_core::quorum::{QuorumKind, QuorumSystem, VoteKeys};
        let system = QuorumSystem::new(QuorumKind::Dissemination, 4, 1).expect("valid");
        let config = palisade_core::quorum::register::RegisterConfig::new(system, VoteKeys::Test(7));
        use palisade_core::quorum::register::{Register, RegisterCommand};
        // Clients n5 and n7 are reading, n6 writing, when the message arrives.
        palisade_fuzz::drive_with::<Register>(&config, 7, &msg, |node| match node.0 {
            5 | 7 => Some(RegisterCommand::Read),
            6 => Some(RegisterCommand::Write { value: b"v".to_vec() }),
            _ => None,
        });
    }
});
