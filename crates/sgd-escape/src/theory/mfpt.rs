//! Exact mean first-passage time of a one-dimensional diffusion (docs/theory.md eq. 20).
//!
//! For `dθ = a(θ) dt + sqrt(2 D(θ)) dW` with a reflecting or natural left boundary and an
//! absorbing point b, the mean time to reach b from θ₀ < b is
//!
//! `T(θ₀) = ∫_{θ₀}^{b} dy e^{Ψ(y)} ∫_{−∞}^{y} e^{−Ψ(z)} / D(z) dz`, `Ψ(y) = −∫^y a/D`.
//!
//! Units: t (the SDE's own time), whatever noise model `D` encodes.

/// `ln(e^a + e^b)` without overflow.
#[inline]
fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Composite-trapezoid evaluation of the double integral on a uniform grid with `intervals`
/// intervals between `start` and `target`, extended left to `lower`. All sums are kept in log
/// space, so barriers of hundreds of e-folds neither overflow nor underflow.
fn mfpt_trapezoid(
    drift: &impl Fn(f64) -> f64,
    diffusion: &impl Fn(f64) -> f64,
    start: f64,
    target: f64,
    lower: f64,
    intervals: usize,
) -> f64 {
    let h = (target - start) / intervals as f64;
    let left = ((start - lower) / h).ceil() as usize;
    let n = left + intervals;
    let z = |i: usize| start + (i as f64 - left as f64) * h;
    let mut psi = 0.0;
    let mut g_prev = -drift(z(0)) / diffusion(z(0));
    let mut log_f_prev = -psi - diffusion(z(0)).ln();
    let mut log_inner = f64::NEG_INFINITY;
    let mut log_outer = f64::NEG_INFINITY;
    let log_half_h = (0.5 * h).ln();
    let mut log_g_outer_prev = f64::NEG_INFINITY;
    for i in 1..=n {
        let zi = z(i);
        let d = diffusion(zi);
        let g = -drift(zi) / d;
        psi += 0.5 * h * (g_prev + g);
        g_prev = g;
        let log_f = -psi - d.ln();
        log_inner = log_add_exp(log_inner, log_half_h + log_add_exp(log_f_prev, log_f));
        log_f_prev = log_f;
        let log_g_outer = psi + log_inner;
        if i > left {
            log_outer = log_add_exp(log_outer, log_half_h + log_add_exp(log_g_outer_prev, log_g_outer));
        }
        log_g_outer_prev = log_g_outer;
    }
    log_outer.exp()
}

/// Mean first-passage time from `start` to the absorbing point `target > start` of
/// `dθ = drift(θ) dt + sqrt(2 diffusion(θ)) dW`; the inner integral starts at `lower`, which
/// must lie far enough left that `e^{−Ψ}/D` is negligible there (the left boundary is then
/// effectively natural). `intervals` grid intervals span `[start, target]`; the result is the
/// Richardson extrapolation of the trapezoid rule at `intervals` and `2·intervals`
/// (error O(h⁴) for smooth coefficients).
pub fn mean_first_passage_time(
    drift: impl Fn(f64) -> f64,
    diffusion: impl Fn(f64) -> f64,
    start: f64,
    target: f64,
    lower: f64,
    intervals: usize,
) -> f64 {
    assert!(lower < start && start < target && intervals >= 2);
    let coarse = mfpt_trapezoid(&drift, &diffusion, start, target, lower, intervals);
    let fine = mfpt_trapezoid(&drift, &diffusion, start, target, lower, 2 * intervals);
    (4.0 * fine - coarse) / 3.0
}

/// [`mean_first_passage_time`] with the integration range chosen automatically, in either
/// direction: from `start` to `target` (either side), the inner integral extends away from the
/// target until the tail beyond is negligible: the integrand's weight `e^{−Ψ}/D` has fallen by
/// e⁻⁶⁰, or weight × distance travelled is below 10⁻¹² of the integral accumulated so far (for
/// noise that grows fast away from the well, Ψ stays bounded and the tail decays as a power).
/// The search starts with steps of |target − start|/1000 and doubles them every 1000 steps.
/// `intervals` as in the fixed-range form.
pub fn mean_first_passage_time_auto(
    drift: impl Fn(f64) -> f64,
    diffusion: impl Fn(f64) -> f64,
    start: f64,
    target: f64,
    intervals: usize,
) -> f64 {
    let sign = if target >= start { 1.0 } else { -1.0 };
    // Orient so that the target lies to the right: y = sign·θ, dy = sign·a dt + ….
    let a = |y: f64| sign * drift(sign * y);
    let d = |y: f64| diffusion(sign * y);
    let (y0, yb) = (sign * start, sign * target);
    let mut h = (yb - y0) / 1000.0;
    let mut psi = 0.0;
    let mut y = y0;
    let mut g_prev = -a(y) / d(y);
    let start_log_weight = -d(y).ln();
    let mut weight_prev = 1.0;
    let mut integral = 0.0;
    for step in 1..=60_000 {
        if step % 1000 == 0 {
            h *= 2.0;
        }
        let next = y - h;
        let g = -a(next) / d(next);
        psi -= 0.5 * h * (g + g_prev);
        g_prev = g;
        y = next;
        let log_weight = -psi - d(y).ln() - start_log_weight;
        let weight = log_weight.exp();
        integral += 0.5 * h * (weight + weight_prev);
        weight_prev = weight;
        if log_weight < -60.0 || weight * (y0 - y) < 1e-12 * integral {
            break;
        }
    }
    mean_first_passage_time(a, d, y0, yb, y, intervals)
}

/// Composite trapezoid for [`radial_mean_first_passage_time`] with `intervals` intervals.
fn radial_trapezoid(
    dim: usize,
    radius: f64,
    gradient_norm: &impl Fn(f64) -> f64,
    radial_diffusion: &impl Fn(f64) -> f64,
    tangential_diffusion: &impl Fn(f64) -> f64,
    intervals: usize,
) -> f64 {
    let h = radius / intervals as f64;
    let k = (dim - 1) as f64;
    // χ' = g/D_r − (d − 1)(D_t/D_r − 1)/r, regular at r = 0 where it vanishes.
    let chi_rate = |r: f64| {
        if r == 0.0 { 0.0 } else { (gradient_norm(r) - k * (tangential_diffusion(r) - radial_diffusion(r)) / r) / radial_diffusion(r) }
    };
    let log_half_h = (0.5 * h).ln();
    let mut chi = 0.0;
    let mut rate_prev = chi_rate(0.0);
    // q(r) = r^{d−1} e^{−χ}/D_r (the stationary radial density); F = ∫₀^r q. At r = 0, q = 0
    // for d ≥ 2 and 1/D_r(0) for d = 1.
    let mut log_q_prev = if dim == 1 { -radial_diffusion(0.0).ln() } else { f64::NEG_INFINITY };
    let mut log_f = f64::NEG_INFINITY;
    // Outer integrand e^{χ} r^{1−d} F(r): 0 at r = 0.
    let mut log_outer_prev = f64::NEG_INFINITY;
    let mut log_total = f64::NEG_INFINITY;
    for i in 1..=intervals {
        let r = i as f64 * h;
        let rate = chi_rate(r);
        chi += 0.5 * h * (rate_prev + rate);
        rate_prev = rate;
        let log_q = k * r.ln() - chi - radial_diffusion(r).ln();
        log_f = log_add_exp(log_f, log_half_h + log_add_exp(log_q_prev, log_q));
        log_q_prev = log_q;
        let log_outer = chi - k * r.ln() + log_f;
        log_total = log_add_exp(log_total, log_half_h + log_add_exp(log_outer_prev, log_outer));
        log_outer_prev = log_outer;
    }
    log_total.exp()
}

/// Mean first-passage time from the centre u = 0 to the sphere |u| = `radius` of the
/// rotation-invariant diffusion `du = −∇L dt + sqrt(2D(u)) dW` in `dim` dimensions, where
/// L depends on r = |u| only (|∇L| = `gradient_norm(r)`) and D has eigenvalue
/// `radial_diffusion(r)` along u and `tangential_diffusion(r)` across it (units of t).
///
/// The radius obeys `dr = (−L'(r) + (d − 1)D_t/r) dt + sqrt(2D_r) dW` (Itô), a 1-D diffusion
/// reflected at 0, so `T = ∫₀^R dy [1/(D_r q)](y) ∫₀^y q(z) dz` with the stationary radial
/// density `q(r) = r^{d−1} e^{−χ(r)}/D_r(r)`, `χ(r) = ∫₀^r [L'/D_r − (d − 1)(D_t/D_r − 1)/s] ds`.
/// For d = 1 this is the two-sided exit time of the interval (−R, R). The result is the
/// Richardson extrapolation of the trapezoid rule at `intervals` and `2·intervals`.
///
/// This is exact for SGD's continuum SDEs on an isotropic quadratic L = L* + h r²/2: with the
/// paper's noise (D_r = D_t = ηhL/B), the exact Gaussian-data noise (D_r = η(2Lh + h²r²)/(2B),
/// D_t = ηLh/B), frozen or isotropic noise; the exit L > cL* is r = sqrt(2L*(c − 1)/h).
pub fn radial_mean_first_passage_time(
    dim: usize,
    radius: f64,
    gradient_norm: impl Fn(f64) -> f64,
    radial_diffusion: impl Fn(f64) -> f64,
    tangential_diffusion: impl Fn(f64) -> f64,
    intervals: usize,
) -> f64 {
    assert!(dim >= 1 && radius > 0.0 && intervals >= 2);
    let coarse = radial_trapezoid(dim, radius, &gradient_norm, &radial_diffusion, &tangential_diffusion, intervals);
    let fine = radial_trapezoid(dim, radius, &gradient_norm, &radial_diffusion, &tangential_diffusion, 2 * intervals);
    (4.0 * fine - coarse) / 3.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn radial_passage_of_brownian_motion_is_r2_over_2dd() {
        // No drift, constant D: E[τ] = R²/(2dD) exactly.
        for dim in [1, 2, 3, 8] {
            let t = super::radial_mean_first_passage_time(dim, 1.5, |_| 0.0, |_| 0.7, |_| 0.7, 2000);
            let exact = 1.5 * 1.5 / (2.0 * dim as f64 * 0.7);
            assert!((t / exact - 1.0).abs() < 1e-6, "d = {dim}: {t} vs {exact}");
        }
    }

    #[test]
    fn radial_passage_in_one_dimension_is_the_two_sided_exit_time() {
        // OU dθ = −θ dt + sqrt(2D) dW with D = 0.3 from 0 to |θ| = 1: by symmetry the exit
        // time of (−1, 1) is the one-sided time from 0 to 1 with reflection at 0, which the
        // general formula gives with the inner integral started at 0.
        let (d, b) = (0.3, 1.0);
        let radial = super::radial_mean_first_passage_time(1, b, |r| r, |_| d, |_| d, 4000);
        // Reflecting at 0: T = ∫₀^b e^{y²/2D}/D ∫₀^y e^{−z²/2D} dz dy, by a fine midpoint rule.
        let n = 20_000;
        let h = b / n as f64;
        let (mut inner, mut total) = (0.0, 0.0);
        for i in 0..n {
            let y = (i as f64 + 0.5) * h;
            let inner_mid = inner + 0.5 * h * (-y * y / (2.0 * d)).exp();
            total += h * (y * y / (2.0 * d)).exp() / d * inner_mid;
            inner += h * (-y * y / (2.0 * d)).exp();
        }
        assert!((radial / total - 1.0).abs() < 1e-6, "{radial} vs {total}");
    }

    use super::*;

    /// Pure diffusion with a reflecting wall at w (a steep confining drift left of w):
    /// `T(x₀ → b) = ((b − w)² − (x₀ − w)²) / 2D`; the wall's penetration depth sqrt(D/10⁷) ≈ 2e-4
    /// limits the agreement.
    #[test]
    fn brownian_motion_with_reflecting_wall() {
        // Zero drift, constant D, reflecting wall emulated by a steep confining drift far left:
        // T(x0 → b) = ((b − w)² − (x0 − w)²) / 2D for a reflecting wall at w.
        let d = 0.3;
        let w = -1.0;
        let drift = |x: f64| if x < w { -1e7 * (x - w) } else { 0.0 };
        let t = mean_first_passage_time(drift, |_| d, 0.0, 1.0, -1.01, 100_000);
        let exact = ((1.0 - w) * (1.0 - w) - (0.0 - w) * (0.0 - w)) / (2.0 * d);
        assert!((t - exact).abs() / exact < 2e-3, "{t} vs {exact}");
    }

    #[test]
    fn ornstein_uhlenbeck_matches_series() {
        // Ornstein–Uhlenbeck dθ = −θ dt + √2 dW (D = 1) from 0 to b:
        // T = ∫_0^b e^{y²/2} ∫_{−∞}^y e^{−z²/2} dz dy = ∫_0^b e^{y²/2} √(2π) Φ(y) dy, with the
        // inner integral in closed form (erfc) and the outer by an independent Simpson rule.
        use statrs::function::erf::erfc;
        let b = 1.5;
        let n = 200_000;
        let h = b / n as f64;
        let f = |y: f64| (y * y / 2.0).exp() * (2.0 * std::f64::consts::PI).sqrt() * 0.5 * erfc(-y / 2f64.sqrt());
        let mut simpson = f(0.0) + f(b);
        for i in 1..n {
            simpson += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        let reference = simpson * h / 3.0;
        let t = mean_first_passage_time(|x| -x, |_| 1.0, 0.0, b, -12.0, 4000);
        assert!((t - reference).abs() / reference < 1e-9, "{t} vs {reference}");
    }

    /// The automatic range agrees with a fixed far-left range for an exponential tail (OU)
    /// and for a power-law tail (noise growing like θ⁴, so Ψ stays bounded), in both
    /// directions.
    #[test]
    fn automatic_range_matches_fixed_range() {
        let ou = mean_first_passage_time(|x| -x, |_| 0.5, 0.0, 1.5, -12.0, 4000);
        assert!((mean_first_passage_time_auto(|x| -x, |_| 0.5, 0.0, 1.5, 4000) / ou - 1.0).abs() < 1e-9);
        let grow = |x: f64| 0.2 * (1.0 + x.powi(4));
        let fixed = mean_first_passage_time(|x| -x, grow, 0.0, 1.0, -2000.0, 2000);
        let auto = mean_first_passage_time_auto(|x| -x, grow, 0.0, 1.0, 2000);
        assert!((auto / fixed - 1.0).abs() < 1e-6, "{auto} vs {fixed}");
        let mirrored = mean_first_passage_time_auto(|x| -x, grow, 0.0, -1.0, 2000);
        assert!((mirrored / fixed - 1.0).abs() < 1e-6, "{mirrored} vs {fixed}");
    }
}
