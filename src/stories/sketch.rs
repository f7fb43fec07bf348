//! Few-bit one-permutation MinHash: how much of two feature sets overlap, from a few bytes each.
//! Pure.
//!
//! A sketch of `B`-bit values has `32 / B` bins per `u32` word. Every feature hash falls into
//! one bin (by its high bits) and the bin keeps the smallest remixed value seen, reduced to
//! `B` bits; 0 marks an empty bin, so values run from 1 to `2^B - 1`. Two sets agree in a bin
//! with probability equal to their Jaccard similarity, plus `1 / (2^B - 1)` by chance among
//! bins that are filled on both sides, which [`jaccard`] subtracts. Many small bins beat few
//! wide ones for the same bytes (b-bit minwise hashing): the noise that decides near the
//! threshold is the number of bins.

use super::text::mix;

/// Build a sketch of `features` into `out` (`out.len() * 32 / bits` bins), with `seed` making
/// sketches of different kinds independent.
pub fn build(features: &[u64], bits: u32, seed: u64, out: &mut [u32]) {
    // One bit would leave no value besides "empty".
    debug_assert!(matches!(bits, 2 | 4 | 8));
    let per_word = 32 / bits as usize;
    let bins = out.len() * per_word;
    let mut minima = [u32::MAX; 256];
    let mut filled = [false; 256];
    debug_assert!(bins <= minima.len());
    for &f in features {
        let h = mix(f ^ seed);
        let bin = (((h >> 32) * bins as u64) >> 32) as usize;
        let value = h as u32;
        if !filled[bin] || value < minima[bin] {
            minima[bin] = value;
            filled[bin] = true;
        }
    }
    let modulus = (1u64 << bits) - 1;
    out.fill(0);
    for bin in 0..bins {
        if filled[bin] {
            let v = (1 + mix(u64::from(minima[bin])) % modulus) as u32;
            out[bin / per_word] |= v << ((bin % per_word) as u32 * bits);
        }
    }
}

/// Estimated Jaccard similarity of the two sets behind `a` and `b` (same `bits` and seed).
pub fn jaccard(a: &[u32], b: &[u32], bits: u32) -> f32 {
    let low = low_bits(bits);
    let (mut matches, mut both, mut any) = (0u32, 0u32, 0u32);
    for (&x, &y) in a.iter().zip(b) {
        let (fx, fy) = (filled(x, bits, low), filled(y, bits, low));
        let equal = equal_fields(x, y, bits, low);
        matches += (equal & fx).count_ones();
        both += (fx & fy).count_ones();
        any += (fx | fy).count_ones();
    }
    if any == 0 {
        return 0.0;
    }
    let chance = 1.0 / ((1u32 << bits) - 1) as f32;
    let true_matches = (matches as f32 - chance * both as f32).max(0.0) / (1.0 - chance);
    (true_matches / any as f32).min(1.0)
}

/// Containment `|A∩B| / min(|A|, |B|)` from a Jaccard estimate and the exact set sizes.
pub fn containment(jaccard: f32, len_a: usize, len_b: usize) -> f32 {
    let small = len_a.min(len_b);
    if small == 0 {
        return 0.0;
    }
    let intersection = jaccard * (len_a + len_b) as f32 / (1.0 + jaccard);
    (intersection / small as f32).min(1.0)
}

/// The lowest bit of every `bits`-wide field.
fn low_bits(bits: u32) -> u32 {
    match bits {
        2 => 0x5555_5555,
        4 => 0x1111_1111,
        _ => 0x0101_0101,
    }
}

/// One bit (at each field's lowest position) per non-zero field.
fn filled(x: u32, bits: u32, low: u32) -> u32 {
    let mut any = x;
    for shift in 1..bits {
        any |= x >> shift;
    }
    any & low
}

/// One bit per field where `x` and `y` are equal.
fn equal_fields(x: u32, y: u32, bits: u32, low: u32) -> u32 {
    let same = !(x ^ y);
    let mut all = same;
    for shift in 1..bits {
        all &= same >> shift;
    }
    all & low
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(range: std::ops::Range<u64>) -> Vec<u64> {
        range.map(|i| mix(i + 1)).collect()
    }

    fn estimate(a: &[u64], b: &[u64], bits: u32, words: usize) -> f32 {
        let words = words * 2;
        let (mut sa, mut sb) = (vec![0; words], vec![0; words]);
        build(a, bits, 7, &mut sa);
        build(b, bits, 7, &mut sb);
        jaccard(&sa, &sb, bits)
    }

    #[test]
    fn identical_sets_agree_and_disjoint_sets_do_not() {
        let a = set(0..200);
        let b = set(1000..1200);
        for bits in [2, 4, 8] {
            assert!((estimate(&a, &a, bits, 4) - 1.0).abs() < 1e-6, "{bits}");
            assert!(estimate(&a, &b, bits, 4) < 0.15, "{bits}");
        }
        assert_eq!(estimate(&[], &[], 2, 3), 0.0);
    }

    #[test]
    fn estimates_track_the_true_overlap() {
        // 300 shared, 900 in all.
        let a = set(0..500);
        let b = set(200..900);
        let j = estimate(&a, &b, 2, 3);
        assert!((j - 300.0 / 900.0).abs() < 0.15, "{j}");
        // Averaged over seeds the estimator is unbiased.
        let mean: f32 = (0..64)
            .map(|seed| {
                let (mut sa, mut sb) = ([0; 6], [0; 6]);
                build(&a, 2, seed, &mut sa);
                build(&b, 2, seed, &mut sb);
                jaccard(&sa, &sb, 2)
            })
            .sum::<f32>()
            / 64.0;
        assert!((mean - 300.0 / 900.0).abs() < 0.03, "{mean}");
    }

    #[test]
    fn containment_of_a_subset_is_one() {
        let small = 40;
        let large = 160;
        let j = small as f32 / large as f32;
        assert!((containment(j, small, large) - 1.0).abs() < 1e-6);
        assert_eq!(containment(0.0, small, large), 0.0);
        assert_eq!(containment(1.0, 0, 5), 0.0);
    }

    #[test]
    fn short_sets_leave_bins_empty_not_matching() {
        let a = set(0..10);
        let b = set(10..20);
        let (mut sa, mut sb) = ([0; 6], [0; 6]);
        build(&a, 2, 1, &mut sa);
        build(&b, 2, 1, &mut sb);
        assert!(filled(sa[0], 2, low_bits(2)).count_ones() <= 10);
        assert!(jaccard(&sa, &sb, 2) < 0.2);
    }
}
