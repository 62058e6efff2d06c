//! Standard normal draws by the ziggurat method (Marsaglia and Tsang 2000, in the form of
//! Doornik 2005 with 128 layers), split so that the lane kernels can run the common case for
//! all lanes at once and finish the rare cases lane by lane, drawing from each lane's stream in
//! the same order as the scalar [`standard_normal`]: the SDE lane kernel and the generic loop
//! produce bit-identical paths.
//!
//! One 64-bit draw gives the sign and magnitude `u ∈ [−1, 1)` (its top 52 bits) and the layer
//! `i` (bits 3–9). With probability ≈ 0.98 the point falls inside the layer's rectangle and
//! `u·x[i]` is the answer ([`fast_normal`]); otherwise [`slow_normal`] tries the wedge or the
//! tail beyond r with further draws.

use super::rng::ReplicaRng;
use std::sync::OnceLock;

/// Layers.
pub const LAYERS: usize = 128;
/// Start of the tail, r.
const R: f64 = 3.442_619_855_899;
/// Area of each layer, v.
const V: f64 = 9.912_563_035_262_17e-3;

/// The layer edges x[0..=128] and the ratios x[i+1]/x[i].
struct Tables {
    x: [f64; LAYERS + 1],
    ratio: [f64; LAYERS],
    /// The density exp(−x²/2) at the edges.
    f: [f64; LAYERS + 1],
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut x = [0.0; LAYERS + 1];
        let mut f = (-0.5 * R * R).exp();
        x[0] = V / f;
        x[1] = R;
        for i in 2..LAYERS {
            x[i] = (-2.0 * (V / x[i - 1] + f).ln()).sqrt();
            f = (-0.5 * x[i] * x[i]).exp();
        }
        x[LAYERS] = 0.0;
        let mut ratio = [0.0; LAYERS];
        for i in 0..LAYERS {
            ratio[i] = x[i + 1] / x[i];
        }
        let f = x.map(|e| (-0.5 * e * e).exp());
        Tables { x, ratio, f }
    })
}

/// The layer edges x[0..=128] and the ratios x[i+1]/x[i], for kernels that run the common
/// case themselves: `z = u·x[i]` is accepted when `|u| < ratio[i]`, with `u = signed_unit(w)`
/// and `i = layer(w)`.
pub fn ziggurat_tables() -> (&'static [f64; LAYERS + 1], &'static [f64; LAYERS]) {
    let t = tables();
    (&t.x, &t.ratio)
}

/// The layer of a first draw.
#[inline(always)]
pub fn layer(w: u64) -> usize {
    ((w >> 3) as usize) & (LAYERS - 1)
}

/// `u ∈ [−1, 1)` on a grid of 2⁻⁵¹ from the top 52 bits of `w`: the bits fill the mantissa of a
/// number in [2, 4), from which 3 is subtracted exactly (no integer-to-float conversion, so
/// that lane kernels vectorise it).
#[inline(always)]
pub fn signed_unit(w: u64) -> f64 {
    f64::from_bits(0x4000_0000_0000_0000 | (w >> 12)) - 3.0
}

/// A uniform in (0, 1] (never 0, for logarithms).
#[inline(always)]
fn open_unit(w: u64) -> f64 {
    ((w >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The common case from the first draw `w`: `Some(z)` inside the layer's rectangle.
#[inline(always)]
pub fn fast_normal(w: u64) -> Option<f64> {
    let t = tables();
    let u = signed_unit(w);
    let i = layer(w);
    if u.abs() < t.ratio[i] { Some(u * t.x[i]) } else { None }
}

/// The rest of the algorithm after a first draw `w` that [`fast_normal`] rejected: the wedge
/// test or the tail, with further draws from `next`, retrying from scratch as the method does.
#[cold]
pub fn slow_normal(mut w: u64, next: &mut impl FnMut() -> u64) -> f64 {
    let t = tables();
    loop {
        let u = signed_unit(w);
        let i = layer(w);
        if u.abs() < t.ratio[i] {
            return u * t.x[i];
        }
        if i == 0 {
            // The tail beyond r (Marsaglia 1964).
            loop {
                let a = open_unit(next()).ln() / R;
                let b = open_unit(next()).ln();
                if -2.0 * b >= a * a {
                    return if u < 0.0 { a - R } else { R - a };
                }
            }
        }
        // The wedge: accept z with probability (f(z) − f(x[i])) / (f(x[i+1]) − f(x[i])).
        let z = u * t.x[i];
        if t.f[i] + open_unit(next()) * (t.f[i + 1] - t.f[i]) < (-0.5 * z * z).exp() {
            return z;
        }
        w = next();
    }
}

/// One standard normal from `rng`.
#[inline]
pub fn standard_normal(rng: &mut ReplicaRng) -> f64 {
    use rand::Rng;
    let w = rng.next_u64();
    match fast_normal(w) {
        Some(z) => z,
        None => slow_normal(w, &mut || rng.next_u64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::rng::replica_rng;
    use statrs::distribution::{ContinuousCDF, Normal};

    /// The layers tile the density: the last edge computed from r and v comes back to the top
    /// of the density (x[127] small, and the area of the top layer is v).
    #[test]
    fn tables_close_at_the_mode() {
        let t = tables();
        let top = t.x[LAYERS - 1];
        let area = top * (1.0 - (-0.5 * top * top).exp());
        assert!((area - V).abs() < 1e-9 * V.max(1.0) + 1e-9, "{area} against {V}");
        assert!(t.x.windows(2).skip(1).all(|w| w[0] > w[1]));
    }

    /// 2 × 10⁶ draws: mean, variance, fourth moment and tail mass beyond r (the tail branch)
    /// within 4 standard errors, and a Kolmogorov–Smirnov distance below its 0.1% critical
    /// value 1.95/√n.
    #[test]
    fn draws_are_standard_normal() {
        let n = 2_000_000;
        let mut rng = replica_rng(11, 0);
        let mut z: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let nf = n as f64;
        let mean = z.iter().sum::<f64>() / nf;
        let var = z.iter().map(|v| v * v).sum::<f64>() / nf;
        let fourth = z.iter().map(|v| v.powi(4)).sum::<f64>() / nf;
        assert!(mean.abs() < 4.0 / nf.sqrt(), "{mean}");
        assert!((var - 1.0).abs() < 4.0 * 2f64.sqrt() / nf.sqrt(), "{var}");
        assert!((fourth - 3.0).abs() < 4.0 * 96f64.sqrt() / nf.sqrt(), "{fourth}");
        let normal = Normal::new(0.0, 1.0).unwrap();
        let p_tail = 2.0 * (1.0 - normal.cdf(R));
        let tail = z.iter().filter(|v| v.abs() > R).count() as f64 / nf;
        assert!((tail - p_tail).abs() < 4.0 * (p_tail / nf).sqrt(), "{tail} against {p_tail}");
        z.sort_by(f64::total_cmp);
        let ks = z
            .iter()
            .enumerate()
            .map(|(k, &v)| (normal.cdf(v) - k as f64 / nf).abs().max((normal.cdf(v) - (k + 1) as f64 / nf).abs()))
            .fold(0.0, f64::max);
        assert!(ks < 1.95 / nf.sqrt(), "KS distance {ks}");
    }

    /// The split form draws the same numbers from the same stream as the scalar form.
    #[test]
    fn split_form_matches_the_scalar_form() {
        let mut a = replica_rng(5, 3);
        let mut b = replica_rng(5, 3);
        use rand::Rng;
        for _ in 0..100_000 {
            let z = standard_normal(&mut a);
            let w = b.next_u64();
            let y = fast_normal(w).unwrap_or_else(|| slow_normal(w, &mut || b.next_u64()));
            assert_eq!(z.to_bits(), y.to_bits());
        }
        assert_eq!(a, b);
    }
}
