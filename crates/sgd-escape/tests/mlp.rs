//! The MLP against independent references: an element-by-element implementation of the same
//! network differentiated by num-dual (gradients, Hessians, per-sample gradients, output
//! Jacobians), finite differences on a larger network, and thread-count independence.

use nalgebra::DVector;
use num_dual::{Dual2DVec64, DualNum, DualVec64, gradient, hessian};
use sgd_escape::data::{DataSpec, LabelMap, Scale, build, load_vendored};
use sgd_escape::model::prelude::*;
use sgd_escape::model::{Activation, Dataset, Mlp};

/// The reference network: loops over units, generic over the number type.
fn reference_outputs<T: DualNum<Primitive = f64>>(sizes: &[usize], act: Activation, theta: &DVector<T>, x: &[f64]) -> Vec<T> {
    let mut a: Vec<T> = x.iter().map(|v| T::from(*v)).collect();
    let mut o = 0;
    for (i, w) in sizes.windows(2).enumerate() {
        let (inp, out) = (w[0], w[1]);
        let mut z = Vec::with_capacity(out);
        for r in 0..out {
            let mut s = theta[o + inp * out + r].clone();
            for c in 0..inp {
                s += theta[o + r * inp + c].clone() * a[c].clone();
            }
            z.push(s);
        }
        o += inp * out + out;
        a = if i + 2 < sizes.len() {
            z.into_iter()
                .map(|s| match act {
                    Activation::Relu => {
                        if s.re() > 0.0 {
                            s
                        } else {
                            s * 0.0
                        }
                    }
                    Activation::Tanh => s.tanh(),
                })
                .collect()
        } else {
            z
        };
    }
    a
}

fn reference_sample_loss<T: DualNum<Primitive = f64>>(model: &Mlp, theta: &DVector<T>, mu: usize) -> T {
    let f = reference_outputs(model.sizes(), model.activation(), theta, model.data().row(mu));
    let mut l = T::from(0.0);
    for (fk, yk) in f.into_iter().zip(model.data().target(mu)) {
        let r = fk - *yk;
        l += r.clone() * r * 0.5;
    }
    l
}

fn small_data(outputs: usize, seed: u64) -> Dataset {
    let base = Dataset::gaussian(12, 3, seed, |x, xi| x[0] - 0.5 * x[1] * x[2] + 0.3 * xi);
    let y: Vec<f64> = (0..base.len()).flat_map(|mu| (0..outputs).map(move |k| (mu as f64 * 0.7 + k as f64).sin())).collect();
    Dataset { features: 3, outputs, x: base.x, y }
}

#[test]
fn derivatives_match_num_dual() {
    for (hidden, act, outputs) in [
        (vec![5], Activation::Tanh, 1),
        (vec![4, 3], Activation::Tanh, 3),
        (vec![5], Activation::Relu, 1),
        (vec![4, 3], Activation::Relu, 2),
    ] {
        let model = Mlp::new(&hidden, act, small_data(outputs, 7)).unwrap();
        let p = model.dim();
        let theta = model.glorot(3).iter().enumerate().map(|(i, w)| w + 0.05 * (i as f64).sin()).collect::<Vec<_>>();
        let x = DVector::from_column_slice(&theta);
        let n = model.samples();
        let label = format!("{hidden:?} {act:?} K = {outputs}");
        // Loss, gradient and every Hessian column.
        let (value, grad_ref, hess) = hessian(
            |t: DVector<Dual2DVec64>| {
                let mut l = Dual2DVec64::from(0.0);
                for mu in 0..n {
                    l += reference_sample_loss(&model, &t, mu);
                }
                l / n as f64
            },
            &x,
        );
        let mut grad = vec![0.0; p];
        let loss = model.loss_and_gradient(&theta, &mut grad);
        assert!((loss - value).abs() < 1e-12 * (1.0 + value), "{label}: {loss} vs {value}");
        assert!((model.loss(&theta) - value).abs() < 1e-12 * (1.0 + value));
        for i in 0..p {
            assert!((grad[i] - grad_ref[i]).abs() < 1e-11, "{label}: grad[{i}]");
        }
        let mut col = vec![0.0; p];
        let mut e = vec![0.0; p];
        for j in 0..p {
            e[j] = 1.0;
            model.hvp(&theta, &e, &mut col);
            e[j] = 0.0;
            for i in 0..p {
                assert!((col[i] - hess[(i, j)]).abs() < 1e-10, "{label}: H[{i},{j}] {} vs {}", col[i], hess[(i, j)]);
            }
        }
        // Per-sample losses, gradients and gradient norms; output Jacobians; minibatch gradient.
        let (losses, norms) = model.per_sample_losses_and_gradient_norms(&theta);
        let mut g = vec![0.0; p];
        let mut r = vec![0.0; outputs];
        let mut jac = vec![0.0; outputs * p];
        let mut gn_ref = vec![0.0; p];
        let mut weighted_ref = vec![0.0; p];
        let v: Vec<f64> = (0..p).map(|i| (i as f64 * 1.3).cos()).collect();
        for mu in 0..n {
            let (l_ref, g_ref) = gradient(|t: DVector<DualVec64<nalgebra::Dyn>>| reference_sample_loss(&model, &t, mu), &x);
            let l = model.sample_loss_gradient(&theta, mu, &mut g);
            assert!((l - l_ref).abs() < 1e-12 && (losses[mu] - l_ref).abs() < 1e-12, "{label}: ℓ_{mu}");
            let norm_ref: f64 = g_ref.iter().map(|v| v * v).sum();
            assert!((norms[mu] - norm_ref).abs() < 1e-10 * (1.0 + norm_ref), "{label}: |∇ℓ_{mu}|² {} vs {norm_ref}", norms[mu]);
            for i in 0..p {
                assert!((g[i] - g_ref[i]).abs() < 1e-11);
            }
            model.residuals_and_output_gradients(&theta, mu, &mut r, &mut jac);
            for k in 0..outputs {
                let (fk, gk) = gradient(
                    |t: DVector<DualVec64<nalgebra::Dyn>>| {
                        reference_outputs(model.sizes(), model.activation(), &t, model.data().row(mu))[k].clone()
                    },
                    &x,
                );
                assert!((r[k] - (fk - model.data().target(mu)[k])).abs() < 1e-12);
                let jv: f64 = (0..p).map(|i| gk[i] * v[i]).sum();
                for i in 0..p {
                    assert!((jac[k * p + i] - gk[i]).abs() < 1e-11);
                    gn_ref[i] += gk[i] * jv / n as f64;
                    weighted_ref[i] += l_ref * gk[i] * jv / n as f64;
                }
            }
        }
        let mut gn = vec![0.0; p];
        model.gauss_newton_vector_product(&theta, &v, &mut gn);
        let mut weighted = vec![0.0; p];
        model.weighted_gauss_newton_vector_product(&theta, Some(&losses), &v, &mut weighted);
        for i in 0..p {
            assert!((gn[i] - gn_ref[i]).abs() < 1e-11, "{label}: Gv[{i}]");
            assert!((weighted[i] - weighted_ref[i]).abs() < 1e-11, "{label}: weighted Gv[{i}]");
        }
        let batch = [3, 0, 3, 11];
        model.minibatch_gradient(&theta, &batch, &mut g);
        let mut mean = vec![0.0; p];
        let mut gm = vec![0.0; p];
        for &mu in &batch {
            model.sample_loss_gradient(&theta, mu, &mut gm);
            for i in 0..p {
                mean[i] += gm[i] / batch.len() as f64;
            }
        }
        assert!(g.iter().zip(&mean).all(|(a, b)| (a - b).abs() < 1e-13), "{label}: minibatch gradient");
        // 𝒩 = (1/N)Σ|∇ℓ_μ|² − |∇L|².
        let s = model.noise_strength(&theta);
        let expected = norms.iter().sum::<f64>() / n as f64 - grad.iter().map(|g| g * g).sum::<f64>();
        assert!((s.noise - expected).abs() < 1e-12 && s.noise > 0.0, "{label}");
    }
}

/// A digits-sized network (64-32-16-10, P = 2778, N = 1797, several sample groups and
/// blocks): the gradient against central differences of the loss, the HVP against central
/// differences of the gradient, along random directions.
#[test]
fn derivatives_match_finite_differences_on_digits() {
    // Standardised pixels keep pre-activations O(1), so few ReLU kinks fall within ±h.
    let spec = DataSpec { labels: LabelMap::OneHot, scale: Scale::Standardize, ..Default::default() };
    let data = build(&load_vendored("digits").unwrap(), &spec).unwrap();
    for act in [Activation::Tanh, Activation::Relu] {
        let model = Mlp::new(&[32, 16], act, data.clone()).unwrap();
        let p = model.dim();
        assert_eq!(p, 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
        let theta = model.glorot(1);
        let v: Vec<f64> = (0..p).map(|i| (i * 7919 % 1000) as f64 / 500.0 - 1.0).collect();
        let mut grad = vec![0.0; p];
        model.loss_and_gradient(&theta, &mut grad);
        let h = 1e-5;
        let shifted = |s: f64| theta.iter().zip(&v).map(|(t, d)| t + s * d).collect::<Vec<f64>>();
        let fd = (model.loss(&shifted(h)) - model.loss(&shifted(-h))) / (2.0 * h);
        let directional: f64 = grad.iter().zip(&v).map(|(g, d)| g * d).sum();
        assert!((fd - directional).abs() < 1e-6 * directional.abs().max(1.0), "{act:?}: {fd} vs {directional}");
        let mut hv = vec![0.0; p];
        model.hvp(&theta, &v, &mut hv);
        let (mut gp, mut gm) = (vec![0.0; p], vec![0.0; p]);
        model.loss_and_gradient(&shifted(h), &mut gp);
        model.loss_and_gradient(&shifted(-h), &mut gm);
        let scale = hv.iter().map(|x| x.abs()).fold(0.0, f64::max);
        for i in 0..p {
            let fd = (gp[i] - gm[i]) / (2.0 * h);
            // ReLU's kinks make finite differences of the gradient inexact where a
            // pre-activation crosses 0 inside ±h; tolerance relative to the largest entry.
            let tol = if act == Activation::Relu { 1e-3 } else { 1e-6 };
            assert!((fd - hv[i]).abs() < tol * scale, "{act:?}: Hv[{i}] {} vs {fd}", hv[i]);
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    // Digits: N = 1797 samples make 4 groups, so the order of the parallel sums matters.
    let data = build(&load_vendored("digits").unwrap(), &DataSpec { labels: LabelMap::OneHot, ..Default::default() }).unwrap();
    let model = Mlp::new(&[16, 16], Activation::Relu, data).unwrap();
    let theta = model.glorot(5);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let mut g = vec![0.0; model.dim()];
            let l = model.loss_and_gradient(&theta, &mut g);
            let mut hv = vec![0.0; model.dim()];
            model.hvp(&theta, &g, &mut hv);
            (l, g, hv, model.per_sample_losses_and_gradient_norms(&theta))
        })
    };
    assert_eq!(run(1), run(2));
}

/// Products at one θ through [`HessianProduct::hessian_at`] (the forward and backward passes
/// kept) equal single products to the bit, for both activations, with weight decay, over several
/// sample groups and for any thread count; a linearisation above the memory limit is refused.
#[test]
fn products_at_one_point_equal_single_products() {
    let data = build(&load_vendored("digits").unwrap(), &DataSpec { labels: LabelMap::OneHot, ..Default::default() }).unwrap();
    for act in [Activation::Tanh, Activation::Relu] {
        let model = Mlp::new(&[24, 12], act, data.clone()).unwrap().with_weight_decay(1e-3).unwrap();
        let p = model.dim();
        let theta = model.glorot(2);
        let directions: Vec<Vec<f64>> =
            (0..3).map(|k| (0..p).map(|i| ((i * 7919 + k * 104_729) % 1000) as f64 / 500.0 - 1.0).collect()).collect();
        let single: Vec<Vec<f64>> = directions
            .iter()
            .map(|v| {
                let mut hv = vec![0.0; p];
                model.hvp(&theta, v, &mut hv);
                hv
            })
            .collect();
        for threads in [1, 2, 3] {
            let shared = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                let at = model.hessian_at(&theta).expect("a digits network's linearisation fits in memory");
                directions
                    .iter()
                    .map(|v| {
                        let mut hv = vec![0.0; p];
                        at.hvp(v, &mut hv);
                        hv
                    })
                    .collect::<Vec<_>>()
            });
            assert!(shared == single, "{act:?}, {threads} threads: products at one point differ from single products");
        }
    }
    // 50 000 samples × (4 × 700 + 1) stored numbers × 8 bytes > 1 GiB.
    let wide = Dataset { features: 1, outputs: 1, x: vec![0.5; 50_000], y: vec![1.0; 50_000] };
    let model = Mlp::new(&[700, 700], Activation::Tanh, wide).unwrap();
    assert!(model.hessian_at(&vec![0.0; model.dim()]).is_none(), "a linearisation above HESSIAN_CACHE_BYTES must be refused");
}

#[test]
fn glorot_initialisation() {
    let data = Dataset { features: 200, outputs: 100, x: vec![0.0; 200], y: vec![0.0; 100] };
    let model = Mlp::new(&[300], Activation::Relu, data).unwrap();
    let theta = model.glorot(9);
    assert_eq!(theta, model.glorot(9));
    assert_ne!(theta, model.glorot(10));
    // First layer: 300 × 200 weights uniform in ±√(6/500), then 300 zero biases.
    let bound = (6.0f64 / 500.0).sqrt();
    let w = &theta[..60_000];
    assert!(w.iter().all(|v| v.abs() <= bound));
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    // Variance bound²/3 = 2/(in + out); SE of the mean of squares ≈ bound²·√(4/45)/√n.
    assert!((var - bound * bound / 3.0).abs() < 4.0 * bound * bound * (4.0f64 / 45.0).sqrt() / (w.len() as f64).sqrt());
    assert!(theta[60_000..60_300].iter().all(|b| *b == 0.0));
}

/// Weight decay λ: loss, gradient and Hessian of `L + (λ/2)|θ|²` against num-dual on the
/// reference network with the penalty; each sample's loss and gradient carry the penalty (so L
/// is their mean and a minibatch gradient over all samples equals ∇L); the gradient-noise
/// covariance and 𝒩 are those without weight decay (the penalty adds no noise); residuals
/// stay the data's; and a negative or non-finite λ is refused naming `model.weight_decay`.
#[test]
fn weight_decay_adds_a_deterministic_penalty() {
    let lambda = 0.3;
    for (hidden, act, outputs) in [(vec![5], Activation::Tanh, 1), (vec![4, 3], Activation::Relu, 2)] {
        let plain = Mlp::new(&hidden, act, small_data(outputs, 5)).unwrap();
        let model = plain.clone().with_weight_decay(lambda).unwrap();
        assert_eq!(model.weight_decay(), lambda);
        let p = model.dim();
        let n = model.samples();
        let theta = model.glorot(2).iter().enumerate().map(|(i, w)| w + 0.05 * (i as f64).cos()).collect::<Vec<_>>();
        let x = DVector::from_column_slice(&theta);
        let (value, grad_ref, hess) = hessian(
            |t: DVector<Dual2DVec64>| {
                let mut l = Dual2DVec64::from(0.0);
                for mu in 0..n {
                    l += reference_sample_loss(&model, &t, mu);
                }
                let mut sq = Dual2DVec64::from(0.0);
                for i in 0..t.len() {
                    sq += t[i].clone() * t[i].clone();
                }
                l / n as f64 + sq * (0.5 * lambda)
            },
            &x,
        );
        let mut grad = vec![0.0; p];
        let loss = model.loss_and_gradient(&theta, &mut grad);
        assert!((loss - value).abs() < 1e-12 * (1.0 + value) && (model.loss(&theta) - value).abs() < 1e-12 * (1.0 + value));
        let data_part = model.data_loss(&theta);
        assert!((data_part - plain.loss(&theta)).abs() < 1e-15 && data_part < loss);
        let mut col = vec![0.0; p];
        let mut e = vec![0.0; p];
        for j in 0..p {
            assert!((grad[j] - grad_ref[j]).abs() < 1e-11, "grad[{j}]");
            e[j] = 1.0;
            model.hvp(&theta, &e, &mut col);
            e[j] = 0.0;
            for i in 0..p {
                assert!((col[i] - hess[(i, j)]).abs() < 1e-10, "H[{i},{j}]");
            }
        }
        // Per-sample losses and gradients with the penalty: their mean is L and ∇L.
        let mut g = vec![0.0; p];
        let mut mean_grad = vec![0.0; p];
        let losses = model.sample_losses(&theta);
        let mut mean_loss = 0.0;
        for (mu, loss_mu) in losses.iter().enumerate() {
            let l = model.sample_loss_gradient(&theta, mu, &mut g);
            assert!((l - loss_mu).abs() < 1e-14);
            mean_loss += l / n as f64;
            g.iter().zip(mean_grad.iter_mut()).for_each(|(gi, m)| *m += gi / n as f64);
        }
        assert!((mean_loss - loss).abs() < 1e-12);
        let all: Vec<usize> = (0..n).collect();
        let mut minibatch = vec![0.0; p];
        model.minibatch_gradient(&theta, &all, &mut minibatch);
        for i in 0..p {
            assert!((mean_grad[i] - grad[i]).abs() < 1e-12 && (minibatch[i] - grad[i]).abs() < 1e-12, "∇ℓ_μ mean, minibatch [{i}]");
        }
        // No noise from the penalty.
        let (c, c_plain) = (model.gradient_covariance(&theta), plain.gradient_covariance(&theta));
        for (a, b) in c.iter().zip(&c_plain) {
            assert!((a - b).abs() < 1e-12, "C: {a} vs {b}");
        }
        let (s, s_plain) = (model.noise_strength(&theta), plain.noise_strength(&theta));
        assert!((s.noise - s_plain.noise).abs() < 1e-12 * s_plain.noise.abs().max(1.0), "𝒩 {} vs {}", s.noise, s_plain.noise);
        assert!((s.mean_sample_gradient_norm_sq - s.noise - s.gradient_norm_sq).abs() < 1e-12);
        assert!((model.gradient_covariance_trace(&theta) - s_plain.noise).abs() < 1e-12 * s_plain.noise.abs().max(1.0));
        // Residuals are the data's.
        let (mut r, mut r_plain) = (vec![0.0; outputs], vec![0.0; outputs]);
        let (mut jac, mut jac_plain) = (vec![0.0; outputs * p], vec![0.0; outputs * p]);
        model.residuals_and_output_gradients(&theta, 0, &mut r, &mut jac);
        plain.residuals_and_output_gradients(&theta, 0, &mut r_plain, &mut jac_plain);
        assert_eq!((r, jac), (r_plain, jac_plain));
    }
    let plain = Mlp::new(&[3], Activation::Tanh, small_data(1, 1)).unwrap();
    for bad in [-1e-3, f64::NAN, f64::INFINITY] {
        let e = plain.clone().with_weight_decay(bad).unwrap_err().to_string();
        assert!(e.contains("model.weight_decay"), "{e}");
    }
}

/// With weight decay L is coercive, so minimisation from the Glorot start ends at a finite,
/// strict minimum: |∇L| ≤ 1e-11, H(θ*) positive definite, and (λ/2)|θ*|² ≤ L(θ*) ≤ L(θ₀).
/// The configuration key is checked, and the echoed configuration records it.
#[test]
fn weight_decay_from_the_configuration_gives_a_finite_minimum() {
    use sgd_escape::experiment::{Config, prepare};
    use std::path::Path;
    let text = |decay: &str| {
        format!(
            "[model]\nkind = \"mlp\"\nhidden = [2]\nactivation = \"tanh\"\nweight_decay = {decay}\n[data]\nsource = \"wine\"\nstandardize = true\nlabels = {{ kind = \"binary\", positive = [0] }}\n[start]\nminimize = true\n[dynamics]\nkind = \"sgd\"\nlr = 0.05\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n[landscape]\nsaddle = \"none\"\n"
        )
    };
    let config = Config::from_toml(&text("0.01"), Path::new("t.toml")).unwrap();
    let prepared = prepare(&config, Path::new(".")).unwrap();
    let sgd_escape::experiment::build::BuiltModel::Mlp(model) = &prepared.model else { panic!("an MLP") };
    assert_eq!(model.weight_decay(), 0.01);
    let theta = &prepared.start.theta;
    let mut grad = vec![0.0; model.dim()];
    let loss = model.loss_and_gradient(theta, &mut grad);
    assert!(grad.iter().map(|g| g * g).sum::<f64>().sqrt() <= 1e-11);
    assert!(prepared.start.hessian_eigenvalues[0] > 0.0, "a strict minimum: {:?}", &prepared.start.hessian_eigenvalues[..3]);
    let start_loss = model.loss(&model.glorot(0));
    assert!(0.5 * 0.01 * theta.iter().map(|t| t * t).sum::<f64>() <= loss && loss <= start_loss);
    assert!(serde_json::to_string(&prepared.config).unwrap().contains("\"weight_decay\":0.01"));
    for bad in ["-0.5", "nan"] {
        let e = Config::from_toml(&text(bad), Path::new("t.toml")).map(|_| ()).unwrap_err().to_string();
        assert!(e.contains("model.weight_decay"), "{e}");
    }
    // On diabetes (target in its own units) a 10-2-1 tanh network's minimisation from the
    // Glorot start runs to weights of hundreds without weight decay, and the error says what to
    // do; with λ = 10⁻³ it converges.
    let diabetes = |decay: &str| {
        text(decay).replace("source = \"wine\"", "source = \"diabetes\"").replace("labels = { kind = \"binary\", positive = [0] }\n", "")
    };
    let e =
        prepare(&Config::from_toml(&diabetes("0.0"), Path::new("t.toml")).unwrap(), Path::new(".")).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("start.point") && e.contains("`model.weight_decay` > 0 makes its minima finite"), "{e}");
    let prepared = prepare(&Config::from_toml(&diabetes("0.001"), Path::new("t.toml")).unwrap(), Path::new(".")).unwrap();
    let norm_sq: f64 = prepared.start.theta.iter().map(|t| t * t).sum();
    assert!(prepared.start.hessian_eigenvalues[0] > 0.0 && 0.5 * 0.001 * norm_sq <= prepared.start.loss);
}
