//! Saddle search and outliers on landscapes with closed-form critical points.

use sgd_escape::experiment::config::Config;
use sgd_escape::experiment::prepare;
use sgd_escape::landscape::curvature::Hessian;
use sgd_escape::landscape::minimize;
use sgd_escape::landscape::outliers::{OutlierRule, detect_outliers};
use sgd_escape::landscape::saddle::{SaddleOptions, eigenvector_following, given_saddle, nudged_elastic_band};
use sgd_escape::landscape::spectrum::dense_eigen;
use sgd_escape::model::{CurveMap, Dataset, DoubleWell, FeatureModel, HessianProduct};

/// Double well, dim 1–4, stiffness 2: both methods find θˢ = 0 to 1e-8 with index 1 and
/// Hessian eigenvalues exactly (−1, 2, …, 2); at the minimum n = dim outliers with h* = 2.
#[test]
fn double_well_saddles_and_outliers() {
    for dim in 1..=4 {
        let model = DoubleWell { epsilon: 0.1, dim, stiffness: 2.0 };
        let mut a = vec![0.0; dim];
        a[0] = -1.0;
        let mut b = vec![0.0; dim];
        b[0] = 1.0;
        let mut e1 = vec![0.0; dim];
        e1[0] = 1.0;
        let saddles = [
            eigenvector_following(&model, &a, Some(&e1), SaddleOptions::default()).unwrap(),
            nudged_elastic_band(&model, &a, &b, SaddleOptions::default()).unwrap(),
        ];
        for s in saddles {
            assert!(s.theta.iter().all(|t| t.abs() < 1e-8), "{}: θˢ = {:?}", s.method, s.theta);
            assert_eq!(s.index, 1);
            assert!((s.escape_eigenvalue + 1.0).abs() < 1e-12);
            for l in &s.hessian_eigenvalues[1..] {
                assert!((l - 2.0).abs() < 1e-12);
            }
            assert!((s.loss - 0.35).abs() < 1e-14);
            assert!(s.escape_direction[0].abs() > 1.0 - 1e-12);
        }
        let (values, vectors) = dense_eigen(&Hessian::new(&model, &a));
        let outliers = detect_outliers(&values, &vectors, OutlierRule::default());
        assert_eq!(outliers.n, dim);
        assert!((outliers.h_star - 2.0).abs() < 1e-12);
    }
}

/// With a soft transverse direction (stiffness 0.01 ≪ 2), the outlier rule separates the one
/// stiff direction from the bulk, and eigenvector following told to leave along θ₁ tracks that mode rather
/// than the softer θ₂ and finds the saddle.
#[test]
fn soft_bulk_is_not_an_outlier() {
    let model = DoubleWell { epsilon: 0.1, dim: 3, stiffness: 0.01 };
    let a = [-1.0, 0.0, 0.0];
    let (values, vectors) = dense_eigen(&Hessian::new(&model, &a));
    let outliers = detect_outliers(&values, &vectors, OutlierRule::default());
    assert_eq!(outliers.n, 1);
    assert!((outliers.h_star - 2.0).abs() < 1e-12);
    let s = eigenvector_following(&model, &a, Some(&[1.0, 0.0, 0.0]), SaddleOptions::default()).unwrap();
    assert!(s.theta.iter().all(|t| t.abs() < 1e-8));
}

/// A failed search says why: along θ₂ the loss is a parabola, with no saddle to find.
#[test]
fn eigenvector_following_without_a_saddle_fails_with_a_reason() {
    let model = DoubleWell { epsilon: 0.1, dim: 2, stiffness: 0.5 };
    let err = eigenvector_following(&model, &[-1.0, 0.0], Some(&[0.0, 1.0]), SaddleOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("eigenvector following") && msg.contains("no saddle along this direction"), "{msg}");
}

/// Curve model, tilt 0: the saddle is at θ = 0, and L*, L(θˢ), H(θ*), H(θˢ) agree with the
/// population closed forms (docs/theory.md §8) up to the data set's finite-sample error
/// (moments fluctuate by O(N^{-1/2}) ≈ 0.003 at N = 10⁵; tolerance 0.02).
#[test]
fn curve_model_critical_points_match_closed_forms() {
    let (s, kappa, sigma) = (0.5_f64, 1.0_f64, 0.3_f64);
    let model =
        FeatureModel::new(CurveMap { dim: 2, s, kappa, stiffness: 1.5 }, Dataset::gaussian(100_000, 3, 21, |_, xi| sigma * xi)).unwrap();
    let min = minimize(&model, &[-1.0, 0.1], Default::default()).unwrap();
    let t2 = 1.0 - s * s / (2.0 * kappa * kappa);
    let loss_star = 0.5 * (s * s * t2 + kappa * kappa * (t2 - 1.0).powi(2)) + 0.5 * sigma * sigma;
    let tol = 0.02;
    assert!((min.theta[0] + t2.sqrt()).abs() < tol && min.theta[1].abs() < tol, "{:?}", min.theta);
    assert!((min.loss - loss_star).abs() < tol);
    let h_star = [s * s + kappa * kappa * (6.0 * t2 - 2.0), 1.5 * 1.5];
    let hm = model.hessian(&min.theta);
    assert!((hm[0] - h_star[0]).abs() < 0.05 && (hm[3] - h_star[1]).abs() < 0.05 && hm[1].abs() < 0.05, "{hm:?}");
    let mut max = min.theta.clone();
    max[0] = -max[0];
    for saddle in [
        eigenvector_following(&model, &min.theta, Some(&[1.0, 0.0]), SaddleOptions::default()).unwrap(),
        nudged_elastic_band(&model, &min.theta, &max, SaddleOptions::default()).unwrap(),
    ] {
        assert!(saddle.theta.iter().all(|t| t.abs() < tol), "{}: {:?}", saddle.method, saddle.theta);
        assert!((saddle.loss - (0.5 * kappa * kappa + 0.5 * sigma * sigma)).abs() < tol);
        assert!((saddle.escape_eigenvalue - (s * s - 2.0 * kappa * kappa)).abs() < 0.05);
        assert!((saddle.hessian_eigenvalues[1] - 2.25).abs() < 0.05);
    }
}

/// L = 1.1 − cos θ₁ + θ₂²/2: minima at θ₁ = 2πk, saddles at θ₁ = π(2k + 1).
struct Washboard;

impl sgd_escape::model::Model for Washboard {
    fn dim(&self) -> usize {
        2
    }
    fn loss(&self, t: &[f64]) -> f64 {
        1.1 - t[0].cos() + 0.5 * t[1] * t[1]
    }
    fn loss_and_gradient(&self, t: &[f64], g: &mut [f64]) -> f64 {
        g[0] = t[0].sin();
        g[1] = t[1];
        self.loss(t)
    }
}

impl HessianProduct for Washboard {
    fn hvp(&self, t: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = t[0].cos() * v[0];
        out[1] = v[1];
    }
}

/// A band between two minima with a third between them relaxes over two barriers; the NEB
/// refuses to report either as *the* saddle and names the image where the band dips. Between
/// neighbouring minima it finds θˢ = (π, 0). A band stopped before convergence reports its
/// loss profile.
#[test]
fn a_band_over_an_intermediate_minimum_is_refused_naming_it() {
    use std::f64::consts::PI;
    let options = SaddleOptions { images: 21, ..SaddleOptions::default() };
    let near = nudged_elastic_band(&Washboard, &[0.0, 0.0], &[2.0 * PI, 0.0], options).unwrap();
    assert!((near.theta[0] - PI).abs() < 1e-8 && near.theta[1].abs() < 1e-8 && near.index == 1);
    let e = nudged_elastic_band(&Washboard, &[0.0, 0.0], &[4.0 * PI, 0.0], options).unwrap_err().to_string();
    assert!(e.contains("the band dips at image 10 (L = 1.000000e-1)") && e.contains("intermediate minimum"), "{e}");
    let e = nudged_elastic_band(&Washboard, &[0.0, 0.0], &[2.0 * PI, 0.0], SaddleOptions { max_iterations: 3, ..options })
        .unwrap_err()
        .to_string();
    assert!(e.contains("no convergence in 3 iterations; the band's losses, image 0 to 20: [1.000000e-1, ") && !e.contains("dips"), "{e}");
}

/// L = 1.1 − cos x + ½K(x)(y − h sin(x/2))², K(x) = 1 + k sin²(x/2): minima at (0, 0) and
/// (2π, 0) with curvatures near 1, a valley whose floor bulges to y = h half-way, where it is
/// k + 1 stiff across, and the saddle (π, h) with L = 2.1.
struct StiffValley {
    h: f64,
    k: f64,
}

impl sgd_escape::model::Model for StiffValley {
    fn dim(&self) -> usize {
        2
    }
    fn loss(&self, t: &[f64]) -> f64 {
        let u = t[1] - self.h * (0.5 * t[0]).sin();
        1.1 - t[0].cos() + 0.5 * (1.0 + self.k * (0.5 * t[0]).sin().powi(2)) * u * u
    }
    fn loss_and_gradient(&self, t: &[f64], g: &mut [f64]) -> f64 {
        let (x, u) = (t[0], t[1] - self.h * (0.5 * t[0]).sin());
        let stiffness = 1.0 + self.k * (0.5 * x).sin().powi(2);
        g[0] = x.sin() + 0.25 * self.k * x.sin() * u * u - stiffness * u * 0.5 * self.h * (0.5 * x).cos();
        g[1] = stiffness * u;
        self.loss(t)
    }
}

impl HessianProduct for StiffValley {
    fn hvp(&self, t: &[f64], v: &[f64], out: &mut [f64]) {
        let (x, u) = (t[0], t[1] - self.h * (0.5 * t[0]).sin());
        let stiffness = 1.0 + self.k * (0.5 * x).sin().powi(2);
        let (ds, dds) = (0.5 * self.k * x.sin(), 0.5 * self.k * x.cos());
        let (ux, uxx) = (-0.5 * self.h * (0.5 * x).cos(), 0.25 * self.h * (0.5 * x).sin());
        let lxx = x.cos() + 0.5 * dds * u * u + 2.0 * ds * u * ux + stiffness * ux * ux + stiffness * u * uxx;
        let lxy = ds * u + stiffness * ux;
        out[0] = lxx * v[0] + lxy * v[1];
        out[1] = lxy * v[0] + stiffness * v[1];
    }
}

/// In the stiff valley with k = 5·10⁴ the straight band's middle is 5·10⁴ times stiffer across
/// than its ends, and with FIRE's first largest step the band runs away (an image reached
/// L = 4.8·10⁴ with the restarts switched off); restarted with smaller steps it finds the
/// saddle (π, h).
#[test]
fn a_band_that_runs_away_is_restarted_with_smaller_steps() {
    use std::f64::consts::PI;
    let model = StiffValley { h: 0.1, k: 5e4 };
    let neb = nudged_elastic_band(&model, &[0.0, 0.0], &[2.0 * PI, 0.0], SaddleOptions::default()).unwrap();
    assert_eq!(neb.index, 1);
    assert!((neb.theta[0] - PI).abs() < 1e-8 && (neb.theta[1] - 0.1).abs() < 1e-8, "θˢ = {:?}", neb.theta);
    assert!((neb.loss - 2.1).abs() < 1e-12);
}

/// `[landscape.saddle] kind = "given"`: a saddle found before is Newton-refined and classified,
/// with no search. On the curve model a point 10⁻³ off the NEB's saddle gives that saddle to
/// 1e-8 and the same barrier and log-barrier rate (and the NEB's saddle is found to border θ*'s
/// basin); a point at the minimum is refused (index 0);
/// missing, misshapen or misplaced keys are refused naming them (tests/matrix_free.rs has the
/// network's parameter file).
#[test]
fn a_given_saddle_is_refined_and_classified() {
    let text = |saddle: &str| {
        format!(
            "[model]\nkind = \"curve\"\ndim = 2\nsamples = 500\n[dynamics]\nkind = \"sgd\"\nlr = 0.2\nbatch_size = 1\n[exit]\nkind = \"saddle-plane\"\n[landscape]\nsaddle = {saddle}\n"
        )
    };
    let analysis = |saddle: &str| {
        Config::from_toml(&text(saddle), std::path::Path::new("t.toml"))
            .and_then(|c| prepare(&c, std::path::Path::new(".")))
            .map(|p| p.landscape)
    };
    let searched = analysis("\"neb\"").unwrap();
    let s = searched.saddle.as_ref().unwrap();
    let near: Vec<f64> = s.theta.iter().map(|t| t + 1e-3).collect();
    let given = analysis(&format!("{{ kind = \"given\", point = {near:?} }}")).unwrap();
    let g = given.saddle.as_ref().unwrap();
    assert_eq!((g.method.as_str(), g.index), ("given", 1));
    assert!(g.theta.iter().zip(&s.theta).all(|(a, b)| (a - b).abs() < 1e-8), "{:?} vs {:?}", g.theta, s.theta);
    // The NEB's saddle is checked to border θ*'s basin (the given one is not checked).
    let neighbours = searched.saddle_neighbours.as_ref().expect("checked for a NEB saddle");
    assert!(neighbours.borders_minimum && neighbours.distances[0] < 1e-6, "{neighbours:?}");
    assert_eq!(searched.saddle_neighbours_warning(), None);
    assert_eq!(given.saddle_neighbours, None);
    assert!((given.barrier.unwrap().log - searched.barrier.unwrap().log).abs() < 1e-10);
    let (rg, rs) = (given.predictions.log_barrier.rate_per_time.unwrap(), searched.predictions.log_barrier.rate_per_time.unwrap());
    assert!((rg - rs).abs() < 1e-8 * rs, "{rg} vs {rs}");

    let at_minimum = format!("{{ kind = \"given\", point = {:?} }}", searched.minimum.theta);
    let e = analysis(&at_minimum).unwrap_err().to_string();
    assert!(e.contains("not a saddle of index one"), "{e}");
    for (saddle, key) in [
        ("{ kind = \"given\" }", "landscape.saddle.point"),
        ("{ kind = \"given\", point = [0.0] }", "landscape.saddle.point"),
        ("{ kind = \"given\", parameters = \"s.json\" }", "landscape.saddle.parameters"),
        ("{ kind = \"given\", point = [0.0, 0.0], parameters = \"s.json\" }", "landscape.saddle.parameters"),
    ] {
        let e = analysis(saddle).unwrap_err().to_string();
        assert!(e.contains(&format!("`{key}`")), "{saddle}: expected {key}: {e}");
    }
}

/// The two minima a saddle joins, by descent from it both ways: on the washboard the saddle
/// (π, 0) joins 0 and 2π, the first on the side of `toward`, and a point beyond the second
/// minimum (4π) is on that side but is not what the saddle joins.
#[test]
fn a_saddle_joins_the_two_minima_its_descents_reach() {
    use sgd_escape::landscape::path::adjacent_minima;
    use std::f64::consts::PI;
    let saddle = nudged_elastic_band(&Washboard, &[0.0, 0.0], &[2.0 * PI, 0.0], SaddleOptions::default()).unwrap();
    let close = |a: &[f64], b: [f64; 2]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
    let [first, second] = adjacent_minima(&Washboard, &saddle, &[0.0, 0.0], PI).unwrap();
    assert!(close(&first.theta, [0.0, 0.0]) && close(&second.theta, [2.0 * PI, 0.0]), "{:?} {:?}", first.theta, second.theta);
    assert!((first.loss - 0.1).abs() < 1e-12 && (second.loss - 0.1).abs() < 1e-12);
    let [first, second] = adjacent_minima(&Washboard, &saddle, &[4.0 * PI, 0.0], PI).unwrap();
    assert!(close(&first.theta, [2.0 * PI, 0.0]) && close(&second.theta, [0.0, 0.0]), "{:?} {:?}", first.theta, second.theta);
}

/// Whether a saddle borders θ*'s basin: on the washboard the saddle (π, 0) borders 0, while
/// from θ* = 4π it is two basins away: its neighbours are 2π and 4π from θ*.
/// L = θ₁³ − 3θ₁ + θ₂²/2: a minimum at (1, 0), an index-1 saddle at (−1, 0), and no minimum
/// beyond it (L → −∞ as θ₁ → −∞).
struct Cubic;

impl sgd_escape::model::Model for Cubic {
    fn dim(&self) -> usize {
        2
    }
    fn loss(&self, t: &[f64]) -> f64 {
        t[0].powi(3) - 3.0 * t[0] + 0.5 * t[1] * t[1]
    }
    fn loss_and_gradient(&self, t: &[f64], g: &mut [f64]) -> f64 {
        g[0] = 3.0 * t[0] * t[0] - 3.0;
        g[1] = t[1];
        self.loss(t)
    }
}

impl HessianProduct for Cubic {
    fn hvp(&self, t: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = 6.0 * t[0] * v[0];
        out[1] = v[1];
    }
}

/// Where one side of a saddle has no minimum, the check that it borders θ*'s basin fails with
/// an error (which the analysis reports and warns about) instead of a made-up minimum.
#[test]
fn a_saddle_with_no_minimum_beyond_it_fails_the_neighbour_check() {
    use sgd_escape::landscape::path::saddle_neighbours;
    let saddle = given_saddle(&Cubic, &[-1.0, 0.0], SaddleOptions::default()).unwrap();
    assert_eq!(saddle.index, 1);
    let checked = saddle_neighbours(&Cubic, &saddle, &[1.0, 0.0]);
    assert!(checked.is_err(), "{checked:?}");
}

#[test]
fn a_saddle_two_basins_away_does_not_border_the_minimum() {
    use sgd_escape::landscape::path::saddle_neighbours;
    use std::f64::consts::PI;
    let saddle = nudged_elastic_band(&Washboard, &[0.0, 0.0], &[2.0 * PI, 0.0], SaddleOptions::default()).unwrap();
    let near = saddle_neighbours(&Washboard, &saddle, &[0.0, 0.0]).unwrap();
    assert!(near.borders_minimum, "{near:?}");
    assert!(near.distances[0] < 1e-9 && (near.distances[1] - 2.0 * PI).abs() < 1e-9, "{near:?}");
    let far = saddle_neighbours(&Washboard, &saddle, &[4.0 * PI, 0.0]).unwrap();
    assert!(!far.borders_minimum, "{far:?}");
    assert!((far.distances[0] - 2.0 * PI).abs() < 1e-9 && (far.distances[1] - 4.0 * PI).abs() < 1e-9, "{far:?}");
    assert!(far.minima.iter().all(|m| (m.loss - 0.1).abs() < 1e-12));
}

/// The full-determinant prefactor of isotropic Kramers on a 400-parameter double well whose
/// determinants underflow (det H* = 2·0.01³⁹⁹): it comes from log(det H*/|det Hˢ|) = ln 2, so
/// κ = (1/2π)·√2·exp(−ΔL/D) exactly, and the unrepresentable determinants are reported as null
/// (their product would be 0/0).
#[test]
fn full_prefactors_survive_determinants_that_underflow() {
    let text = "[model]\nkind = \"double-well\"\ndim = 400\nstiffness = 0.01\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n\
                noise = { kind = \"isotropic\", temperature = 0.05 }\n[exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 0.5\n\
                [landscape]\nsaddle = { kind = \"given\", point = [0.0] }\n";
    let text = text.replace("point = [0.0]", &format!("point = {:?}", vec![0.0; 400]));
    let prepared = prepare(&Config::from_toml(&text, std::path::Path::new("t.toml")).unwrap(), std::path::Path::new(".")).unwrap();
    let g = prepared.landscape.geometry.unwrap();
    assert!(g.det_minimum.is_none() && g.det_saddle.is_none(), "{g:?}");
    assert!((g.log_det_ratio.unwrap() - 2f64.ln()).abs() < 1e-9, "{:?}", g.log_det_ratio);
    let rate = prepared.landscape.predictions.kramers_isotropic.rate_per_time.unwrap();
    let exact = 2f64.sqrt() / (2.0 * std::f64::consts::PI) * (-0.25 / 0.05f64).exp();
    assert!((rate - exact).abs() < 1e-8 * exact, "{rate} against {exact}");
}
