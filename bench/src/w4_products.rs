//! The matrix products of W4's Hessian-vector products alone (`w4 --gemm-bound`,
//! `w4 --gemm-shapes`): see w4.rs.

use rayon::prelude::*;
use sgd_escape::linalg::gemm;
use sgd_escape::model::sample_blocks;
use std::time::Instant;

/// Samples per block of the network's data sums (`sgd_escape::model::sample_blocks`).
const CHUNK: usize = 256;

/// The sizes of the blocks of each group of `n` samples, as the network cuts its sums.
fn blocks(n: usize) -> Vec<Vec<usize>> {
    sample_blocks(n).into_iter().map(|group| group.into_iter().map(|(start, end)| end - start).collect()).collect()
}

fn filled(len: usize, salt: usize) -> Vec<f64> {
    (0..len).map(|j| ((j * 7 + salt) % 13) as f64 * 1e-2 - 0.06).collect()
}

/// The R-passes' products of one block of `n` samples (hessian.rs: `r_forward_into` and
/// `add_block_product_with`), accumulated into `out` (P entries, weights then biases per
/// layer). The element-wise steps between them (σ' masks, bias sums) are left out; the
/// buffers are allocated per block, which 10 rounds of W4 showed to cost nothing measurable.
fn block_products(sizes: &[usize], n: usize, theta: &[f64], v: &[f64], acts: &[Vec<f64>], adj: &[Vec<f64>], out: &mut [f64]) {
    let layers = sizes.len() - 1;
    let offsets: Vec<usize> = (0..layers).scan(0, |o, i| Some(std::mem::replace(o, *o + sizes[i] * sizes[i + 1] + sizes[i + 1]))).collect();
    let mut rz: Vec<Vec<f64>> = Vec::new();
    for i in 0..layers {
        let (inp, outw, o) = (sizes[i], sizes[i + 1], offsets[i]);
        let mut r = vec![0.0; n * outw];
        gemm(&mut r, &acts[i][..n * inp], &v[o..o + inp * outw], n, inp, outw, false, true, true);
        if i > 0 {
            gemm(&mut r, &rz[i - 1], &theta[o..o + inp * outw], n, inp, outw, false, true, true);
        }
        rz.push(r);
    }
    let mut rdelta = rz[layers - 1].clone();
    for i in (0..layers).rev() {
        let (inp, outw, o) = (sizes[i], sizes[i + 1], offsets[i]);
        gemm(&mut out[o..o + inp * outw], &rdelta, &acts[i][..n * inp], outw, n, inp, true, false, true);
        if i > 0 {
            gemm(&mut out[o..o + inp * outw], &adj[i][..n * outw], &rz[i - 1], outw, n, inp, true, false, true);
            let mut rp = vec![0.0; n * inp];
            gemm(&mut rp, &rdelta, &theta[o..o + inp * outw], n, outw, inp, false, false, false);
            gemm(&mut rp, &adj[i][..n * outw], &v[o..o + inp * outw], n, outw, inp, false, false, true);
            rdelta = rp;
        }
    }
}

/// Times the products of `hvps` HVPs on `samples` samples, parallel over the groups as the
/// network's sums are; prints seconds per repetition and the median.
pub fn bound(sizes: &[usize], samples: usize, hvps: usize, repeats: usize) {
    let layers = sizes.len() - 1;
    let p: usize = (0..layers).map(|i| sizes[i] * sizes[i + 1] + sizes[i + 1]).sum();
    let (theta, v) = (filled(p, 1), filled(p, 2));
    let acts: Vec<Vec<f64>> = sizes.iter().map(|&w| filled(CHUNK * w, 3)).collect();
    let adj: Vec<Vec<f64>> = (0..layers).map(|i| filled(CHUNK * sizes[i + 1], 4)).collect();
    let groups = blocks(samples);
    let mut walls = Vec::new();
    for rep in 0..repeats {
        let t0 = Instant::now();
        let mut checksum = 0.0;
        for _ in 0..hvps {
            let parts: Vec<Vec<f64>> = groups
                .par_iter()
                .map(|group| {
                    let mut acc = vec![0.0; p];
                    for &n in group {
                        block_products(sizes, n, &theta, &v, &acts, &adj, &mut acc);
                    }
                    acc
                })
                .collect();
            checksum += parts.iter().map(|a| a[0]).sum::<f64>();
        }
        let wall = t0.elapsed().as_secs_f64();
        println!(
            "{{\"implementation\": \"products of the R-passes\", \"repetition\": {rep}, \"hvps\": {hvps}, \"seconds\": {wall:.3}, \"checksum\": {checksum:.3e}}}"
        );
        walls.push(wall);
    }
    println!(
        "{{\"implementation\": \"products of the R-passes\", \"threads\": {}, \"median_seconds\": {:.3}}}",
        rayon::current_num_threads(),
        super::median(walls)
    );
}

/// GFLOP/s of each product shape of a 256-sample block on one thread, with the row-major
/// destination of `linalg::gemm` and with a column-major destination (faer directly).
pub fn shapes(sizes: &[usize]) {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, MatMut, MatRef, Par};
    let n = CHUNK;
    let mut cases: Vec<(String, usize, usize, usize, bool, bool)> = Vec::new();
    for i in 0..sizes.len() - 1 {
        let (inp, out) = (sizes[i], sizes[i + 1]);
        cases.push((format!("layer {i}: R-forward, (n × {inp})·(W or V)ᵀ"), n, inp, out, false, true));
        cases.push((format!("layer {i}: weight gradient, δᵀ·a"), out, n, inp, true, false));
        if i > 0 {
            cases.push((format!("layer {i}: adjoint, δ·(W or V)"), n, out, inp, false, false));
        }
    }
    for (label, m, k, cols, a_t, b_t) in cases {
        let a = filled(m * k, 5);
        let b = filled(k * cols, 6);
        let mut c = vec![0.0; m * cols];
        let reps = (4e9 / (m * k * cols) as f64).ceil() as usize;
        let flops = 2.0 * (reps * m * k * cols) as f64;
        let t0 = Instant::now();
        for _ in 0..reps {
            gemm(&mut c, &a, &b, m, k, cols, a_t, b_t, true);
        }
        let row_major = flops / t0.elapsed().as_secs_f64() / 1e9;
        let t0 = Instant::now();
        for _ in 0..reps {
            let lhs = if a_t { MatRef::from_row_major_slice(&a, k, m).transpose() } else { MatRef::from_row_major_slice(&a, m, k) };
            let rhs = if b_t { MatRef::from_row_major_slice(&b, cols, k).transpose() } else { MatRef::from_row_major_slice(&b, k, cols) };
            matmul(MatMut::from_column_major_slice_mut(&mut c, m, cols), Accum::Add, lhs, rhs, 1.0, Par::Seq);
        }
        let column_major = flops / t0.elapsed().as_secs_f64() / 1e9;
        println!(
            "{{\"product\": \"{label}\", \"m\": {m}, \"k\": {k}, \"n\": {cols}, \"gflops_row_major_destination\": {row_major:.1}, \"gflops_column_major_destination\": {column_major:.1}}}"
        );
    }
}
