//! Random number streams. Every replica draws from its own xoshiro256++ stream derived from
//! `(seed, replica index)` alone, so results are identical for any number of threads and any
//! order of execution.
//!
//! The generator is implemented here once ([`xoshiro256pp_next`]) and used both by the scalar
//! stream [`ReplicaRng`] and by the struct-of-arrays lane kernel, which keeps one state per lane
//! in separate arrays so that the step vectorises across lanes.

use rand::SeedableRng;
use std::convert::Infallible;

/// SplitMix64 increment (the golden ratio in 64-bit fixed point).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// One step of xoshiro256++ (Blackman and Vigna 2019) on the state words `(s0, s1, s2, s3)`:
/// returns the output and advances the state. The words are passed separately so that the lane
/// kernel can keep each of them in its own lane-indexed array.
#[inline(always)]
pub fn xoshiro256pp_next(s0: &mut u64, s1: &mut u64, s2: &mut u64, s3: &mut u64) -> u64 {
    let result = s0.wrapping_add(*s3).rotate_left(23).wrapping_add(*s0);
    let t = *s1 << 17;
    *s2 ^= *s0;
    *s3 ^= *s1;
    *s1 ^= *s2;
    *s0 ^= *s3;
    *s2 ^= t;
    *s3 = s3.rotate_left(45);
    result
}

/// The next output of lane `l`'s stream when a lane kernel keeps `N` streams as four
/// lane-indexed arrays of state words (the same generator as [`ReplicaRng`]).
#[inline(always)]
pub fn next_lane_u64<const N: usize>(s: &mut [[u64; N]; 4], l: usize) -> u64 {
    let [s0, s1, s2, s3] = s;
    xoshiro256pp_next(&mut s0[l], &mut s1[l], &mut s2[l], &mut s3[l])
}

/// The generator of one replica's stream: xoshiro256++ with a 256-bit state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaRng {
    s: [u64; 4],
}

impl ReplicaRng {
    /// The four state words (the lane kernel loads them into its lanes).
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    /// The stream at the state `s` (a lane kernel handing a lane's replica back to a scalar
    /// loop mid-run), which continues exactly where [`ReplicaRng::state`] left it.
    pub(crate) fn from_state(s: [u64; 4]) -> Self {
        ReplicaRng { s }
    }
}

impl rand::TryRng for ReplicaRng {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        // The upper bits: the lowest bits of xoshiro outputs have linear dependencies.
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    #[inline(always)]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let [s0, s1, s2, s3] = &mut self.s;
        Ok(xoshiro256pp_next(s0, s1, s2, s3))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

impl SeedableRng for ReplicaRng {
    type Seed = [u8; 32];

    /// The state is the seed read as four little-endian words. The all-zero state (a fixed
    /// point of xoshiro) is replaced by the state of `seed_from_u64(0)`.
    fn from_seed(seed: [u8; 32]) -> Self {
        if seed.iter().all(|&b| b == 0) {
            return Self::seed_from_u64(0);
        }
        let mut s = [0u64; 4];
        for (word, chunk) in s.iter_mut().zip(seed.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        ReplicaRng { s }
    }

    /// The state is four consecutive outputs of SplitMix64 started at `seed`.
    fn seed_from_u64(seed: u64) -> Self {
        let mut s = [0u64; 4];
        for (k, word) in s.iter_mut().enumerate() {
            *word = splitmix64(seed.wrapping_add((k as u64).wrapping_mul(GOLDEN_GAMMA)));
        }
        ReplicaRng { s }
    }
}

/// A uniform in [0, 1) from the top 53 bits of one draw `w`.
#[inline(always)]
pub fn unit_uniform(w: u64) -> f64 {
    (w >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform index in `0..n` by Lemire's multiply-shift, `⌊u · n / 2⁶⁴⌋` for a uniform 64-bit
/// `u`, without the rejection step: each index has probability within `n / 2⁶⁴` (< 10⁻¹² for
/// any data set that fits in memory) of `1/n`. One generator call, inlined: the minibatch
/// sampler of SGD.
#[inline(always)]
pub fn uniform_index(rng: &mut ReplicaRng, n: usize) -> usize {
    use rand::Rng;
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// SplitMix64 output for the state `z` (before its increment): a bijective 64-bit mixer.
#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 256-bit xoshiro state of replica `replica` under run seed `seed`: four consecutive
/// SplitMix64 outputs from a start point that mixes both numbers (little-endian bytes).
fn replica_seed(seed: u64, replica: u64) -> [u8; 32] {
    let mut state = splitmix64(seed) ^ splitmix64(replica.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0x5851_F42D_4C95_7F2D);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        state = state.wrapping_add(GOLDEN_GAMMA);
        chunk.copy_from_slice(&splitmix64(state).to_le_bytes());
    }
    bytes
}

/// A stream keyed by several integers under run seed `seed`, e.g. (domain, run, iteration,
/// branch) for the splitting estimator: the parts are chained through splitmix64 into one
/// 64-bit key, so distinct tuples give independent streams (collisions have probability
/// ~2⁻⁶⁴). A `domain` first part keeps such streams apart from the replica streams 0, 1, ….
pub fn keyed_rng(seed: u64, parts: &[u64]) -> ReplicaRng {
    let key = parts.iter().fold(0x243F_6A88_85A3_08D3_u64, |h, &p| splitmix64(h ^ splitmix64(p)));
    replica_rng(seed, key)
}

/// The stream of replica `replica` under run seed `seed`.
pub fn replica_rng(seed: u64, replica: u64) -> ReplicaRng {
    ReplicaRng::from_seed(replica_seed(seed, replica))
}

/// The polynomial of the xoshiro256 jump: applying it advances a state by 2¹²⁸ steps
/// (Blackman and Vigna 2019).
const JUMP: [u64; 4] = [0x180E_C6D3_3CFD_0ABA, 0xD5A6_1266_F0C9_392C, 0xA958_2618_E03F_C9AA, 0x39AB_DC45_29B1_661C];

impl ReplicaRng {
    /// The same stream 2¹²⁸ draws ahead: a second, non-overlapping sequence of the replica's
    /// stream, for draws (such as the Brownian-bridge uniforms) that must not shift the noise.
    pub fn jumped(&self) -> ReplicaRng {
        let mut s = self.s;
        let mut out = [0u64; 4];
        for word in JUMP {
            for bit in 0..64 {
                if word & (1u64 << bit) != 0 {
                    out.iter_mut().zip(&s).for_each(|(o, x)| *o ^= x);
                }
                let [s0, s1, s2, s3] = &mut s;
                xoshiro256pp_next(s0, s1, s2, s3);
            }
        }
        ReplicaRng { s: out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// The jump equals 2¹²⁸ steps: checked through its composition law on a shorter power.
    /// Jumping commutes with stepping (both are powers of the same linear map), and the jumped
    /// stream differs from the original.
    #[test]
    fn jump_commutes_with_steps() {
        let mut a = replica_rng(3, 5);
        let mut jumped_then_step = a.jumped();
        jumped_then_step.next_u64();
        a.next_u64();
        assert_eq!(a.jumped(), jumped_then_step);
        let b = replica_rng(3, 5);
        assert_ne!(b.jumped(), b);
        assert_ne!(b.jumped().jumped(), b);
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4).map(|_| 0).scan(replica_rng(7, 0), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..4).map(|_| 0).scan(replica_rng(7, 1), |r, _| Some(r.next_u64())).collect();
        let a2: Vec<u64> = (0..4).map(|_| 0).scan(replica_rng(7, 0), |r, _| Some(r.next_u64())).collect();
        let c: Vec<u64> = (0..4).map(|_| 0).scan(replica_rng(8, 0), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    /// The generator against the reference implementation in the `rand_xoshiro` crate: the same
    /// outputs from the same seeds, by `from_seed` (including the all-zero seed) and by
    /// `seed_from_u64`, and the same bytes from `fill_bytes`.
    #[test]
    fn matches_the_reference_xoshiro256plusplus() {
        use rand_xoshiro::Xoshiro256PlusPlus as Reference;
        let seeds = [replica_seed(3, 17), [0u8; 32], [0xff; 32]];
        for seed in seeds {
            let (mut ours, mut reference) = (ReplicaRng::from_seed(seed), Reference::from_seed(seed));
            for _ in 0..1000 {
                assert_eq!(ours.next_u64(), reference.next_u64());
            }
            assert_eq!(ours.next_u32(), reference.next_u32());
        }
        for seed in [0, 1, 42, u64::MAX] {
            let (mut ours, mut reference) = (ReplicaRng::seed_from_u64(seed), Reference::seed_from_u64(seed));
            for _ in 0..100 {
                assert_eq!(ours.next_u64(), reference.next_u64());
            }
            let (mut a, mut b) = ([0u8; 21], [0u8; 21]);
            ours.fill_bytes(&mut a);
            reference.fill_bytes(&mut b);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn uniform_index_is_uniform() {
        // Chi-square test of 7 cells over 70 000 draws: 6 degrees of freedom, the 99.99%
        // quantile is 27.9.
        let mut rng = replica_rng(1, 2);
        let mut counts = [0usize; 7];
        for _ in 0..70_000 {
            counts[uniform_index(&mut rng, 7)] += 1;
        }
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - 10_000.0).powi(2) / 10_000.0).sum();
        assert!(chi2 < 27.9, "{counts:?}");
    }
}
