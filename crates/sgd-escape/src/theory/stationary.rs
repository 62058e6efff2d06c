//! Stationary laws: the continuum exponent φ = 1 + β of P ∝ L^(−φ) (docs/theory.md eq. 12) and the
//! exact discrete-time variance of SGD on one-dimensional linear regression, the reference
//! for the finite-η deviation from it.

/// Exponent φ = 1 + β of the stationary law P(θ) ∝ L(θ)^(−φ) in t; β in τ-time.
pub fn stationary_exponent(beta: f64) -> f64 {
    1.0 + beta
}

/// Data-set moments of one-dimensional linear regression f = θx at its minimum θ*:
/// `h = E[x²]` (the Hessian), `k = E[x⁴]`, `m = E[x² e²]` with residual e = y − θ*x.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearRegressionMoments {
    /// E[x²] = h*.
    pub x2: f64,
    /// E[x⁴].
    pub x4: f64,
    /// E[x² e²].
    pub x2e2: f64,
}

impl LinearRegressionMoments {
    /// Moments over data `(x_μ, y_μ)` around `theta_star`.
    pub fn from_data(x: &[f64], y: &[f64], theta_star: f64) -> Self {
        let n = x.len() as f64;
        let mean = |f: &dyn Fn(f64, f64) -> f64| x.iter().zip(y).map(|(x, y)| f(*x, *y)).sum::<f64>() / n;
        LinearRegressionMoments {
            x2: mean(&|x, _| x * x),
            x4: mean(&|x, _| x.powi(4)),
            x2e2: mean(&|x, y| x * x * (y - theta_star * x).powi(2)),
        }
    }
}

/// Exact stationary variance of θ − θ* (units of θ²) for SGD with learning rate η and batches
/// of B indices drawn with replacement on one-dimensional linear regression.
///
/// With u = θ − θ* the step is u' = u − η g, g = (1/B) Σ_b x_b(x_b u − e_b); over the batch
/// E[g|u] = h u and Var[g|u] = (1/B)[(k − h²) u² − 2E[x³e] u + m] (since Σ x e = 0 at θ*).
/// In the stationary state E[u] = 0, so V = E[u'²] = (1 − ηh)² V + (η²/B)[(k − h²) V + m]:
///
/// `V = η m / (B(2h − ηh²) − η(k − h²))`.
///
/// As η → 0 this tends to the continuum ηm/(2Bh). `None` when the denominator is ≤ 0: the
/// second moment diverges (the law has a power-law tail with φ ≤ 3/2).
pub fn sgd_stationary_variance(moments: &LinearRegressionMoments, lr: f64, batch_size: usize) -> Option<f64> {
    let LinearRegressionMoments { x2: h, x4: k, x2e2: m } = *moments;
    let denominator = batch_size as f64 * (2.0 * h - lr * h * h) - lr * (k - h * h);
    (denominator > 0.0).then(|| lr * m / denominator)
}

/// Stationary variance of θ − θ* of the continuum SDE with SGD's exact noise on
/// one-dimensional linear regression, `du = −h u dt + sqrt(2D(u)) dW` with
/// `D(u) = (η/2B)[(k − h²)u² − 2E[x³e]u + m]` (the per-sample gradient variance at θ* + u, over
/// the data): stationarity of E[u²] gives `V = ηm/(2Bh − η(k − h²))`. Against the discrete
/// variance of [`sgd_stationary_variance`] it lacks the −Bηh² of the discrete step; against the
/// paper's continuum ηm/(2Bh) it adds the −η(k − h²) of the ∇L∇Lᵀ and fourth-moment terms.
/// `None` when the denominator is ≤ 0.
pub fn exact_noise_continuum_variance(moments: &LinearRegressionMoments, lr: f64, batch_size: usize) -> Option<f64> {
    let LinearRegressionMoments { x2: h, x4: k, x2e2: m } = *moments;
    let denominator = 2.0 * batch_size as f64 * h - lr * (k - h * h);
    (denominator > 0.0).then(|| lr * m / denominator)
}

/// The φ that a one-dimensional law P ∝ L^(−φ), L = L* + h*u²/2, must have to give variance
/// `variance`: that law is a Student-t with ν = 2φ − 1 and ν s² = 2L*/h*, whose variance is
/// (2L*/h*)/(2φ − 3), so `φ = 3/2 + L*/(h* V)`.
pub fn exponent_from_variance(variance: f64, loss_minimum: f64, h_star: f64) -> f64 {
    1.5 + loss_minimum / (h_star * variance)
}

/// Tail exponent of a random linear recursion u' = a u + b (Kesten's theorem): if
/// E[log|a|] < 0 and |a| > 1 with positive probability, the stationary law has a power-law tail
/// P(|u| > x) ∝ x^(−α), where α > 0 solves E[|a|^α] = 1. `factors` are equally weighted draws
/// (or the exact support) of the multiplier a. `None` when there is no such root: every
/// |a| ≤ 1 (the tail is lighter than any power) or E[log|a|] ≥ 0 (no stationary law).
///
/// For SGD on one-dimensional linear regression a = 1 − (η/B) Σ_b x_b², so the density falls
/// as |u|^(−1−α) ∝ L^(−(1+α)/2): the tail exponent φ_tail = (1 + α)/2, which the continuum
/// theory puts at 1 + B/(ηh*).
pub fn kesten_tail_exponent(factors: &[f64]) -> Option<f64> {
    let logs: Vec<f64> = factors.iter().map(|a| a.abs().ln()).filter(|l| *l > f64::NEG_INFINITY).collect();
    if logs.is_empty() {
        return None;
    }
    // A zero multiplier has log |a| = −∞, which makes E[log|a|] = −∞ and adds 0 to E|a|^α.
    let mean_log = if logs.len() < factors.len() { f64::NEG_INFINITY } else { logs.iter().sum::<f64>() / factors.len() as f64 };
    let max_log = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if mean_log >= 0.0 || max_log <= 0.0 {
        return None;
    }
    // g(α) = log E|a|^α is convex with g(0) = 0, g'(0) < 0 and g → +∞: one positive root.
    let g = |alpha: f64| {
        let shift = alpha * max_log;
        shift + (logs.iter().map(|l| (alpha * l - shift).exp()).sum::<f64>() / factors.len() as f64).ln()
    };
    let mut hi = 1.0;
    while g(hi) < 0.0 {
        hi *= 2.0;
        if hi > 1e6 {
            return None;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if g(mid) < 0.0 {
            lo = mid
        } else {
            hi = mid
        }
        if hi - lo < 1e-12 * hi {
            break;
        }
    }
    Some(0.5 * (lo + hi))
}

/// Kesten's tail exponent α of SGD with batches of B indices on one-dimensional linear regression
/// with infinitely many Gaussian inputs of variance h: the multiplier is a = 1 − (ηh/B)Q with
/// Q ~ χ²_B, and α solves E|1 − (ηh/B)Q|^α = 1 (docs/theory.md eq. 24), here by quadrature over
/// the χ²_B density (composite Simpson on [0, Q_max], in log space). `None` when E log|a| ≥ 0.
pub fn kesten_tail_exponent_gaussian(lr: f64, batch_size: usize, h: f64) -> Option<f64> {
    let b = batch_size as f64;
    let c = lr * h / b;
    let k = b / 2.0;
    let log_gamma_k = statrs::function::gamma::ln_gamma(k);
    // χ²_B log-density; the integrand |1 − cQ|^α χ²_B(Q) is negligible beyond Q_max.
    let log_density = |q: f64| (k - 1.0) * q.ln() - 0.5 * q - k * 2f64.ln() - log_gamma_k;
    let q_max = 400.0 + 40.0 * b;
    let n = 200_000;
    // Nodes avoid Q = 0 (a singular density for B = 1) by a change of variable Q = u²: dQ = 2u du.
    let log_moment = |alpha: f64| {
        let u_max = q_max.sqrt();
        let du = u_max / n as f64;
        let mut terms = Vec::with_capacity(n + 1);
        for i in 0..=n {
            let u = i as f64 * du;
            let q = u * u;
            let weight = simpson_weight(i, n);
            if u == 0.0 {
                continue;
            }
            let a = (1.0 - c * q).abs();
            if a == 0.0 {
                continue;
            }
            terms.push(weight.ln() + alpha * a.ln() + log_density(q) + (2.0 * u).ln());
        }
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        top + (terms.iter().map(|t| (t - top).exp()).sum::<f64>() * du / 3.0).ln()
    };
    positive_root(log_moment)
}

/// Kesten's tail exponent α of SGD with B = 1 on d-dimensional linear regression with
/// infinitely many isotropic Gaussian inputs x ~ N(0, I_d): the recursion is
/// u' = (I − ηxxᵀ)u + ηxe, and P(|u| > r) ∝ r^(−α) where α solves E‖(I − ηxxᵀ)v‖^α = 1 for a unit
/// v (docs/theory.md eq. 24b). The law of A = I − ηxxᵀ is invariant under rotations, so
/// ‖A_n⋯A_1v‖ is a product of independent factors each distributed as ‖Ae₁‖, with
/// ‖Ae₁‖² = (1 − ηx₁²)² + η²x₁²R, x₁ ~ N(0, 1), R = |x_⊥|² ~ χ²_{d−1}; the moment is a 2-D
/// integral (composite Simpson in log space over x₁ and √R). With ‖A‖ = max(1, |1 − η|x|²|), a
/// finite data set has such a tail only if some sample has |x|² > 2/η. `None` when E log‖Ae₁‖ ≥ 0.
pub fn kesten_tail_exponent_isotropic_gaussian(lr: f64, dim: usize) -> Option<f64> {
    if dim == 1 {
        return kesten_tail_exponent_gaussian(lr, 1, 1.0);
    }
    let k = (dim - 1) as f64;
    let log_gamma = statrs::function::gamma::ln_gamma(k / 2.0);
    // R = v²: the χ²_k density times dR/dv = 2v, in logs (finite at v → 0 for every k ≥ 1).
    let log_r_density = |v: f64| if k == 1.0 { 0.0 } else { (k - 1.0) * v.ln() } - 0.5 * v * v - (k / 2.0 - 1.0) * 2f64.ln() - log_gamma;
    // Half-normal x₁ ≥ 0 (‖Ae₁‖ is even in x₁).
    let log_x_density = |x: f64| -0.5 * x * x + (2.0 / std::f64::consts::PI).ln() * 0.5;
    let (nx, nv) = (1200, 1200);
    let (x_max, v_max) = (14.0, (60.0 + 4.0 * k).sqrt() + 4.0);
    let (dx, dv) = (x_max / nx as f64, v_max / nv as f64);
    // (log weight × density, log ‖Ae₁‖) at every node with a positive weight.
    let mut nodes = Vec::with_capacity((nx + 1) * (nv + 1));
    for i in 0..=nx {
        let x = i as f64 * dx;
        // v = 0 carries density only for k = 1.
        for j in usize::from(k > 1.0)..=nv {
            let v = j as f64 * dv;
            let norm2 = (1.0 - lr * x * x).powi(2) + lr * lr * x * x * v * v;
            if norm2 > 0.0 {
                let w = (simpson_weight(i, nx) * simpson_weight(j, nv) * dx * dv / 9.0).ln() + log_x_density(x) + log_r_density(v);
                nodes.push((w, 0.5 * norm2.ln()));
            }
        }
    }
    let log_moment = |alpha: f64| {
        let top = nodes.iter().map(|(w, l)| w + alpha * l).fold(f64::NEG_INFINITY, f64::max);
        top + nodes.iter().map(|(w, l)| (w + alpha * l - top).exp()).sum::<f64>().ln()
    };
    positive_root(log_moment)
}

/// Composite Simpson weight of node i of n (n even): 1, 4, 2, 4, …, 4, 1.
fn simpson_weight(i: usize, n: usize) -> f64 {
    if i == 0 || i == n {
        1.0
    } else if i % 2 == 1 {
        4.0
    } else {
        2.0
    }
}

/// The positive root of g(α) = log E|a|^α (convex, g(0) = 0) by bisection: `None` when
/// g'(0) = E log|a| ≥ 0 (no stationary law) or no root below 10⁴.
fn positive_root(log_moment: impl Fn(f64) -> f64) -> Option<f64> {
    if log_moment(1e-6) >= 0.0 {
        return None;
    }
    let mut hi = 1.0;
    while log_moment(hi) < 0.0 {
        hi *= 2.0;
        if hi > 1e4 {
            return None;
        }
    }
    let mut lo = 0.0;
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if log_moment(mid) < 0.0 { lo = mid } else { hi = mid }
    }
    Some(0.5 * (lo + hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_tends_to_the_continuum_and_diverges_at_large_lr() {
        // Gaussian moments: h = 1, k = 3, m = 2L* with L* = 1/2.
        let g = LinearRegressionMoments { x2: 1.0, x4: 3.0, x2e2: 1.0 };
        let continuum = |lr: f64, b: usize| lr / (2.0 * b as f64);
        assert!((sgd_stationary_variance(&g, 1e-6, 4).unwrap() / continuum(1e-6, 4) - 1.0).abs() < 1e-5);
        // η = 1, B = 1: denominator 2 − 1 − 2 < 0, infinite variance.
        assert_eq!(sgd_stationary_variance(&g, 1.0, 1), None);
        // The continuum law φ = 1 + B/(ηh) has variance (2L*/h)/(2φ − 3) = η/(2B − η): the
        // variance-implied exponent reproduces it when the discrete correction is removed.
        let (lr, b) = (0.1, 2);
        let v = lr / (2.0 * b as f64 - lr);
        assert!((exponent_from_variance(v, 0.5, 1.0) - stationary_exponent(b as f64 / lr)).abs() < 1e-12);
    }

    #[test]
    fn kesten_exponent_solves_the_moment_equation() {
        // a ∈ {0.5, 2} equally likely: E|a|^α = (2^−α + 2^α)/2 = 1 has no positive root (E log|a| = 0).
        assert_eq!(kesten_tail_exponent(&[0.5, 2.0]), None);
        // A mixed set: the root satisfies the defining equation.
        let factors = [0.25, 0.5, 1.5, -0.1];
        let alpha = kesten_tail_exponent(&factors).unwrap();
        let moment = factors.iter().map(|a: &f64| a.abs().powf(alpha)).sum::<f64>() / 4.0;
        assert!((moment - 1.0).abs() < 1e-10, "{alpha}: {moment}");
        // {3, 0, 0}: E|a|^α = 3^α/3 = 1 ⇔ α = 1; {−2, 0}: 2^α/2 = 1 ⇔ α = 1.
        assert!((kesten_tail_exponent(&[3.0, 0.0, 0.0]).unwrap() - 1.0).abs() < 1e-10);
        assert!((kesten_tail_exponent(&[-2.0, 0.0]).unwrap() - 1.0).abs() < 1e-10);
        // Contracting multipliers: no power-law tail.
        assert_eq!(kesten_tail_exponent(&[0.9, -0.5]), None);
    }

    /// The Gaussian-data exponent against the sample version on a million Gaussian draws:
    /// equal within the sampling error of the root (the tail index from a finite sample is
    /// biased low by the rare large |a|; at η = 1 the exponent is ≈ 1 and well sampled), and at
    /// η = 0.1, B = 1 it is the α ≈ 17.3 quoted for infinite data.
    #[test]
    fn gaussian_kesten_exponent_matches_samples() {
        use rand::RngExt;
        use rand_distr::StandardNormal;
        let mut rng = crate::dynamics::rng::replica_rng(5, 0);
        let x: Vec<f64> = (0..1_000_000).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
        let sampled = kesten_tail_exponent(&x.iter().map(|x| 1.0 - x * x).collect::<Vec<_>>()).unwrap();
        let exact = kesten_tail_exponent_gaussian(1.0, 1, 1.0).unwrap();
        assert!((sampled / exact - 1.0).abs() < 0.01, "{sampled} vs {exact}");
        let alpha = kesten_tail_exponent_gaussian(0.1, 1, 1.0).unwrap();
        assert!((alpha - 17.3).abs() < 0.1, "{alpha}");
    }

    /// The d-dimensional exponent against an independent 2-D adaptive quadrature
    /// (scipy.integrate.dblquad of E‖Ae₁‖^α with x₁ and χ²_{d−1} densities, root by brentq):
    /// α/2 = 8.6423, 8.4171, 7.9601, 6.9803 for d = 1, 2, 4, 8 at η = 0.1.
    #[test]
    fn isotropic_kesten_exponent_matches_an_independent_quadrature() {
        for (dim, half_alpha) in [(1, 8.64229), (2, 8.41707), (4, 7.96012), (8, 6.98028)] {
            let alpha = kesten_tail_exponent_isotropic_gaussian(0.1, dim).unwrap();
            assert!((alpha / 2.0 / half_alpha - 1.0).abs() < 2e-4, "d = {dim}: {} vs {half_alpha}", alpha / 2.0);
        }
        // Small η: every ‖Ae₁‖ ≤ 1 has mass 1 − o(1), yet a tail exists; large dimensions lower α.
        assert!(kesten_tail_exponent_isotropic_gaussian(0.1, 16).unwrap() < kesten_tail_exponent_isotropic_gaussian(0.1, 8).unwrap());
    }
}
