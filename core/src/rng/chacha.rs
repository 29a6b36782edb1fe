//! ChaCha8 as a random number generator, written here so that `palisade-core` needs no
//! random-number crate: its output is word for word `rand_chacha` 0.9's `ChaCha8Rng` seeded
//! with `seed_from_u64` and read with `next_u64` (a test compares the two), so every seed
//! replays the runs it replayed before.
//!
//! The block function is Bernstein's ChaCha with 8 rounds, a 64-bit block counter in words
//! 12 and 13 and a zero 64-bit stream number in words 14 and 15. The 32-byte key is
//! expanded from the `u64` seed with PCG32, as `rand_core`'s `seed_from_u64` does.

/// Words in one ChaCha block.
const BLOCK_WORDS: usize = 16;

/// "expand 32-byte k", the constant that fills the first row of every block.
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// A ChaCha8 keystream read 64 bits at a time.
#[derive(Clone, Debug)]
pub(super) struct ChaCha8 {
    key: [u32; 8],
    /// The counter of the next block to generate.
    counter: u64,
    block: [u32; BLOCK_WORDS],
    /// The next unread word of `block`; `BLOCK_WORDS` when it is used up.
    index: usize,
}

impl ChaCha8 {
    /// The generator `rand_core`'s `seed_from_u64(seed)` builds: the key is eight PCG32
    /// outputs from `seed`, little-endian.
    pub(super) fn seed_from_u64(mut state: u64) -> Self {
        const MUL: u64 = 6_364_136_223_846_793_005;
        const INC: u64 = 11_634_580_027_462_260_723;
        let mut key = [0u32; 8];
        for word in &mut key {
            state = state.wrapping_mul(MUL).wrapping_add(INC);
            let xorshifted = (((state >> 18) ^ state) >> 27) as u32;
            *word = xorshifted.rotate_right((state >> 59) as u32);
        }
        ChaCha8 { key, counter: 0, block: [0; BLOCK_WORDS], index: BLOCK_WORDS }
    }

    /// The next 64 bits: two consecutive keystream words, the first as the low half. Blocks
    /// hold an even number of words, so a pair never straddles two blocks.
    #[inline]
    pub(super) fn next_u64(&mut self) -> u64 {
        if self.index >= BLOCK_WORDS {
            self.refill();
        }
        let lo = u64::from(self.block[self.index]);
        let hi = u64::from(self.block[self.index + 1]);
        self.index += 2;
        (hi << 32) | lo
    }

    /// What decides the rest of the stream: the key and the position in it.
    pub(super) fn position(&self) -> ([u32; 8], u64, usize) {
        (self.key, self.counter, self.index)
    }

    fn refill(&mut self) {
        let mut input = [0u32; BLOCK_WORDS];
        input[..4].copy_from_slice(&SIGMA);
        input[4..12].copy_from_slice(&self.key);
        input[12] = self.counter as u32;
        input[13] = (self.counter >> 32) as u32;
        let mut x = input;
        for _ in 0..4 {
            quarter_round(&mut x, 0, 4, 8, 12);
            quarter_round(&mut x, 1, 5, 9, 13);
            quarter_round(&mut x, 2, 6, 10, 14);
            quarter_round(&mut x, 3, 7, 11, 15);
            quarter_round(&mut x, 0, 5, 10, 15);
            quarter_round(&mut x, 1, 6, 11, 12);
            quarter_round(&mut x, 2, 7, 8, 13);
            quarter_round(&mut x, 3, 4, 9, 14);
        }
        for (out, (mixed, original)) in self.block.iter_mut().zip(x.iter().zip(input.iter())) {
            *out = mixed.wrapping_add(*original);
        }
        self.counter = self.counter.wrapping_add(1);
        self.index = 0;
    }
}

fn quarter_round(x: &mut [u32; BLOCK_WORDS], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};

    #[test]
    fn matches_rand_chacha_word_for_word() {
        for seed in [0, 1, 2, 42, 0xDEAD_BEEF, u64::MAX, 1 << 63] {
            let mut ours = ChaCha8::seed_from_u64(seed);
            let mut theirs = ChaCha8Rng::seed_from_u64(seed);
            // 1000 words cross many block and buffer boundaries (theirs fills four blocks
            // at a time).
            for i in 0..1000 {
                assert_eq!(ours.next_u64(), theirs.next_u64(), "seed {seed}, draw {i}");
            }
        }
    }

    #[test]
    fn known_answer_from_the_chacha8_keystream() {
        // ChaCha8 with an all-zero key and nonce, first block (the widely published test
        // vector, e.g. in the eSTREAM ChaCha8 vectors): 3e 00 ef 2f 89 5f 40 d6 ...
        let mut zero = ChaCha8 { key: [0; 8], counter: 0, block: [0; BLOCK_WORDS], index: BLOCK_WORDS };
        let first = zero.next_u64().to_le_bytes();
        assert_eq!(first, [0x3e, 0x00, 0xef, 0x2f, 0x89, 0x5f, 0x40, 0xd6]);
    }

    #[test]
    fn position_tells_apart_generators_that_will_differ() {
        let a = ChaCha8::seed_from_u64(7);
        let mut b = a.clone();
        assert_eq!(a.position(), b.position());
        b.next_u64();
        assert_ne!(a.position(), b.position());
        assert_ne!(ChaCha8::seed_from_u64(8).position(), a.position());
    }
}
