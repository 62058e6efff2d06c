//! The exponent φ of a stationary law P(θ) ∝ L(θ)^(−φ) (docs/theory.md eq. 12), fitted by maximum
//! likelihood from samples of the loss.
//!
//! Model: near a minimum θ* with loss L* and n outlier directions of curvature H*, the loss is
//! L = L*(1 + uᵀH*u/(2L*)), so under P ∝ L^(−φ) the ratio r = L/L* is distributed as
//! r = 1 + χ²_n/χ²_ν with ν = 2φ − n (a multivariate Student-t in u). The normaliser is
//! Z(φ) ∝ L*^(−φ) Γ(φ − n/2)/Γ(φ), so the log-likelihood of samples r_i is
//! `−φ Σ log r_i − N [log Γ(φ − n/2) − log Γ(φ)]` + terms free of φ, and the MLE solves
//!
//! `ψ(φ) − ψ(φ − n/2) = mean(log r_i)`,
//!
//! where ψ is the digamma function. The left side falls from +∞ (φ → n/2) to 0 (φ → ∞), so
//! the root is unique. The law is normalisable only for φ > n/2. Only the loss ratios enter:
//! L* and n must be known (from the landscape analysis); H* does not.

use statrs::function::gamma::digamma;

/// Maximum-likelihood φ of `P ∝ L^(−φ)` from loss ratios `r_i = L(θ_i)/L*` (each ≥ 1) in
/// `n` outlier dimensions. `None` if there are no samples, a ratio is below 1 or not finite,
/// or every ratio is exactly 1 (φ = ∞).
pub fn fit_loss_power(loss_ratios: &[f64], n: usize) -> Option<f64> {
    if loss_ratios.is_empty() || n == 0 || loss_ratios.iter().any(|r| !(r.is_finite() && *r >= 1.0)) {
        return None;
    }
    let target = loss_ratios.iter().map(|r| r.ln()).sum::<f64>() / loss_ratios.len() as f64;
    loss_power_from_mean_log(target, n)
}

/// The φ of `P ∝ L^(−φ)` in `n` dimensions whose mean of log(L/L*) is `mean_log`: the root of
/// ψ(φ) − ψ(φ − n/2) = mean_log. For a law that is not of this family it is the value the
/// maximum-likelihood fit converges to (its pseudo-true φ). `None` for `mean_log` ≤ 0.
pub fn loss_power_from_mean_log(target: f64, n: usize) -> Option<f64> {
    if !(target > 0.0 && target.is_finite()) || n == 0 {
        return None;
    }
    let half = 0.5 * n as f64;
    let gap = |phi: f64| digamma(phi) - digamma(phi - half) - target;
    // Bracket φ − n/2 in (lo, hi) on a log scale, then bisect: gap is decreasing in φ.
    let (mut lo, mut hi) = (1e-12_f64, 1.0_f64);
    while gap(half + hi) > 0.0 {
        lo = hi;
        hi *= 2.0;
        if hi > 1e15 {
            return None;
        }
    }
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if gap(half + mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi / lo - 1.0 < 1e-14 {
            break;
        }
    }
    Some(half + (lo * hi).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{ChiSquared, Distribution};

    /// Ratios r = 1 + χ²_n/χ²_ν, ν = 2φ − n: exact draws from P ∝ L^(−φ).
    fn draw(phi: f64, n: usize, count: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::dynamics::rng::ReplicaRng::seed_from_u64(seed);
        let num = ChiSquared::new(n as f64).unwrap();
        let den = ChiSquared::new(2.0 * phi - n as f64).unwrap();
        (0..count).map(|_| 1.0 + num.sample(&mut rng) / den.sample(&mut rng)).collect()
    }

    #[test]
    fn recovers_phi_from_exact_draws() {
        // The spread over 40 independent fits gives the standard error of one fit; the mean of
        // the fits must sit within 4 SE/√40 of the truth (the MLE's O(1/N) bias is far below).
        for (phi, n) in [(1.2, 1), (2.0, 1), (11.0, 1), (3.0, 2), (6.0, 4), (60.0, 8)] {
            let fits: Vec<f64> = (0..40).map(|s| fit_loss_power(&draw(phi, n, 4000, 100 + s), n).unwrap()).collect();
            let (mean, se) = crate::stats::mean_and_stderr(&fits);
            assert!((mean - phi).abs() < 4.0 * se, "φ = {phi}, n = {n}: {mean} ± {se}");
            assert!(se < 0.05 * phi, "φ = {phi}: SE {se} too large to be a test");
        }
    }

    #[test]
    fn rejects_invalid_samples() {
        assert_eq!(fit_loss_power(&[], 1), None);
        assert_eq!(fit_loss_power(&[1.0, 1.0], 1), None);
        assert_eq!(fit_loss_power(&[1.5, 0.9], 1), None);
        assert_eq!(fit_loss_power(&[1.5, f64::NAN], 1), None);
        assert_eq!(fit_loss_power(&[1.5], 0), None);
    }
}
