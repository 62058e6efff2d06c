//! The minimum-energy path (MEP) from a minimum over a saddle: the gradient-flow line through
//! the saddle, traced by steepest descent from the saddle both ways along its unstable
//! direction, with steps of fixed arc length. Any saddle search (eigenvector following or NEB)
//! gives it; the splitting estimator's `path` coordinate measures arc length along it.

use super::lbfgs::minimize_lbfgs;
use super::minimize::{MinimizeOptions, Minimum};
use super::saddle::Saddle;
use crate::linalg;
use crate::model::Model;
use serde::Serialize;

/// Vertices of the returned path (it is resampled to equal arc length).
const VERTICES: usize = 256;
/// Descent steps per unit of |saddle − θ*| (the arc-length step is that distance / this).
const STEPS_PER_DISTANCE: f64 = 400.0;
/// Most descent steps on each side.
const MAX_STEPS: usize = 40_000;

/// Steepest descent from `start` with steps of arc length `h` until the loss stops
/// decreasing, the gradient vanishes, `stop` is within one step, or [`MAX_STEPS`].
fn descend<M: Model + ?Sized>(model: &M, start: Vec<f64>, h: f64, stop: Option<&[f64]>) -> Vec<Vec<f64>> {
    let mut grad = vec![0.0; start.len()];
    let mut loss = model.loss_and_gradient(&start, &mut grad);
    let mut path = vec![start];
    for _ in 0..MAX_STEPS {
        let x = path.last().expect("non-empty");
        if stop.is_some_and(|s| linalg::distance(x, s) <= h) {
            break;
        }
        let norm = linalg::norm(&grad);
        if !(norm > 0.0 && norm.is_finite()) {
            break;
        }
        let next: Vec<f64> = x.iter().zip(&grad).map(|(x, g)| x - h * g / norm).collect();
        let next_loss = model.loss_and_gradient(&next, &mut grad);
        if next_loss >= loss || next_loss.is_nan() {
            break;
        }
        loss = next_loss;
        path.push(next);
    }
    path
}

/// The MEP from `minimum` through `saddle` and down its far side (to the next minimum, or as
/// far as descent goes), as [`VERTICES`] points at equal arc length, `minimum` first. The
/// saddle lies on it.
pub fn minimum_energy_path<M: Model + ?Sized>(model: &M, minimum: &[f64], saddle: &Saddle) -> Vec<Vec<f64>> {
    let s = &saddle.theta;
    let distance = linalg::distance(s, minimum).max(1e-12);
    let h = distance / STEPS_PER_DISTANCE;
    let u = &saddle.escape_direction;
    let toward: f64 = u.iter().zip(minimum.iter().zip(s)).map(|(u, (m, s))| u * (m - s)).sum();
    let sign = if toward >= 0.0 { 1.0 } else { -1.0 };
    let off = |k: f64| -> Vec<f64> { s.iter().zip(u).map(|(s, u)| s + k * sign * h * u).collect() };
    let mut back = descend(model, off(1.0), h, Some(minimum));
    back.push(minimum.to_vec());
    back.reverse();
    back.push(s.clone());
    back.extend(descend(model, off(-1.0), h, None));
    resample(&back, VERTICES)
}

/// The two minima a saddle joins: steepest descent from θˢ ± h·e (both ways along its escape
/// direction e, with the MEP's steps, h = `scale` / [`STEPS_PER_DISTANCE`]), each end then
/// polished by L-BFGS to |∇L| ≤ 10⁻¹⁰. The first is on the side of `toward`. The MEP of
/// [`minimum_energy_path`] ends at its `minimum` only when that minimum is the first of these;
/// when it is not, the saddle does not border that minimum's basin.
pub fn adjacent_minima<M: Model + ?Sized>(model: &M, saddle: &Saddle, toward: &[f64], scale: f64) -> crate::Result<[Minimum; 2]> {
    let s = &saddle.theta;
    let h = scale.max(1e-12) / STEPS_PER_DISTANCE;
    let u = &saddle.escape_direction;
    let side: f64 = u.iter().zip(toward.iter().zip(s)).map(|(u, (m, s))| u * (m - s)).sum();
    let sign = if side >= 0.0 { 1.0 } else { -1.0 };
    let options = MinimizeOptions { gradient_tol: 1e-10, max_iterations: 100_000 };
    let end = |k: f64| -> crate::Result<Minimum> {
        let start: Vec<f64> = s.iter().zip(u).map(|(s, u)| s + k * sign * h * u).collect();
        let descent = descend(model, start, h, None);
        minimize_lbfgs(model, descent.last().expect("non-empty"), options)
    };
    Ok([end(1.0)?, end(-1.0)?])
}

/// The two minima a saddle joins, seen from θ*: whether the saddle borders θ*'s basin at all.
/// A NEB between θ* and another minimum can relax onto a saddle between two other basins (the
/// band slides over a small barrier without a visible bump); its barrier is then not one θ*
/// escapes over.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SaddleNeighbours {
    /// The two minima the saddle joins ([`adjacent_minima`], the first on θ*'s side).
    pub minima: [Minimum; 2],
    /// Their distances from θ*.
    pub distances: [f64; 2],
    /// Whether one of them is θ*: closer to it than 10⁻³ |θˢ − θ*|.
    pub borders_minimum: bool,
}

/// The minima `saddle` joins ([`adjacent_minima`]) and whether one of them is `theta_star`.
/// Costs two steepest descents of up to 40 000 gradient steps and two L-BFGS polishes.
pub fn saddle_neighbours<M: Model + ?Sized>(model: &M, saddle: &Saddle, theta_star: &[f64]) -> crate::Result<SaddleNeighbours> {
    let scale = linalg::distance(&saddle.theta, theta_star);
    let minima = adjacent_minima(model, saddle, theta_star, scale)?;
    let distances = minima.each_ref().map(|m| linalg::distance(&m.theta, theta_star));
    Ok(SaddleNeighbours { minima, distances, borders_minimum: distances.iter().any(|&d| d <= 1e-3 * scale) })
}

/// `points` resampled at `count` equal arc-length positions (first and last kept).
fn resample(points: &[Vec<f64>], count: usize) -> Vec<Vec<f64>> {
    let arc = arc_lengths(points);
    let total = *arc.last().expect("non-empty");
    if points.len() <= 2 || total <= 0.0 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(count);
    let mut j = 0;
    for i in 0..count {
        let target = total * i as f64 / (count - 1) as f64;
        while j + 2 < points.len() && arc[j + 1] < target {
            j += 1;
        }
        let len = arc[j + 1] - arc[j];
        let t = if len > 0.0 { ((target - arc[j]) / len).clamp(0.0, 1.0) } else { 0.0 };
        out.push(points[j].iter().zip(&points[j + 1]).map(|(a, b)| a + t * (b - a)).collect());
    }
    out
}

/// Cumulative arc length at each vertex of a polyline (0 at the first).
pub fn arc_lengths(points: &[Vec<f64>]) -> Vec<f64> {
    let mut arc = vec![0.0];
    for w in points.windows(2) {
        arc.push(arc.last().expect("non-empty") + linalg::distance(&w[0], &w[1]));
    }
    arc
}

/// A polyline (a path's vertices) prepared for nearest-point queries: the arc length at the
/// point of the polyline nearest to θ ([`PathProjection::arc_length_at`]), which the splitting
/// estimator's `path` coordinate evaluates after every step of every particle.
///
/// For segment k from a_k to b_k = a_k + d_k, the projection of θ is a_k + t d_k with
/// t = (θ − a_k)·d_k / |d_k|², clamped to [0, 1] (the first segment's line extends behind a₀,
/// the last one's beyond the last vertex), and its squared distance is
/// |θ − a_k|² − 2t (θ − a_k)·d_k + t²|d_k|². Expanding |θ − a_k|² = |x|² − 2x·a_k + |a_k|² and
/// (θ − a_k)·d_k = x·d_k − a_k·d_k, with every point taken relative to the vertices' centroid
/// (x = θ − centroid, which keeps the expansion's cancellation at the scale of the path, not of
/// |θ|), leaves two products x·a_k and x·d_k per segment. They are computed for all segments at
/// once from the transposed vertex and direction arrays, in blocks of [`BLOCK`] segments whose
/// sums stay in vector registers: 2·P multiply-adds a segment, vectorised over segments.
#[derive(Clone, Debug, PartialEq)]
pub struct PathProjection {
    /// The vertices' centroid.
    centre: Vec<f64>,
    /// a_k − centre, transposed: entry i·S + k for parameter i of segment k (S: the segments,
    /// rounded up to whole blocks of [`BLOCK`], the padding zero).
    starts: Vec<f64>,
    /// d_k = b_k − a_k, transposed likewise.
    directions: Vec<f64>,
    /// Per segment (padded like the rows): |d_k|², (a_k − centre)·d_k, |a_k − centre|², and the
    /// bounds of t (0 and 1, but −∞ for the first segment and ∞ for the last).
    length_sq: Vec<f64>,
    start_along: Vec<f64>,
    start_sq: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
    /// The arc length at each segment's start (not padded).
    arc: Vec<f64>,
}

impl PathProjection {
    /// The polyline through `points` (each with the same number of entries; a single point, or
    /// none, is a segment of length zero, whose arc length is 0 everywhere).
    pub fn new(points: &[Vec<f64>]) -> Self {
        if points.len() < 2 {
            let point = points.first().cloned().unwrap_or_default();
            return Self::new(&[point.clone(), point]);
        }
        let p = points.first().map_or(0, Vec::len);
        let segments = points.len() - 1;
        let centre: Vec<f64> = (0..p).map(|i| points.iter().map(|v| v[i]).sum::<f64>() / points.len() as f64).collect();
        let arc = arc_lengths(points);
        let stride = segments.div_ceil(BLOCK) * BLOCK;
        let (mut starts, mut directions) = (vec![0.0; p * stride], vec![0.0; p * stride]);
        let (mut length_sq, mut start_along, mut start_sq) = (vec![0.0; stride], vec![0.0; stride], vec![0.0; stride]);
        // The first segment's line extends behind a₀ and the last one's beyond the last vertex.
        let mut low = vec![0.0; stride];
        low[0] = f64::NEG_INFINITY;
        let mut high = vec![1.0; stride];
        high[segments - 1] = f64::INFINITY;
        for (k, w) in points.windows(2).enumerate() {
            for i in 0..p {
                let (a, d) = (w[0][i] - centre[i], w[1][i] - w[0][i]);
                starts[i * stride + k] = a;
                directions[i * stride + k] = d;
                length_sq[k] += d * d;
                start_along[k] += a * d;
                start_sq[k] += a * a;
            }
        }
        PathProjection { centre, starts, directions, length_sq, start_along, start_sq, low, high, arc: arc[..segments].to_vec() }
    }

    /// The arc length at the point of the polyline nearest to `theta` (negative behind the first
    /// vertex, beyond the total length past the last); the first nearest segment wins ties.
    pub fn arc_length_at(&self, theta: &[f64]) -> f64 {
        let segments = self.arc.len();
        let (mut best, mut at) = (f64::INFINITY, 0.0);
        for first in (0..segments).step_by(BLOCK) {
            let (d2, k, t) = nearest_in_block(self, theta, first);
            if d2 < best {
                best = d2;
                at = self.arc[k] + t * self.length_sq[k].sqrt();
            }
        }
        at
    }

    /// Entries per row of the transposed arrays: the segments, padded to whole blocks.
    fn stride(&self) -> usize {
        self.length_sq.len()
    }
}

/// Segments per pass of [`PathProjection::arc_length_at`]: a fixed count, so that the pass's
/// 2 × 32 sums stay in registers.
const BLOCK: usize = 32;

/// The nearest point to θ on the segments `first .. first + BLOCK` (those that exist): its
/// squared distance, segment and position t along it. The products x·a_k and x·d_k (x = θ −
/// centre) are summed over the transposed arrays' rows, then every segment's t and squared
/// distance computed together; the first nearest segment wins ties.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn nearest_in_block(path: &PathProjection, theta: &[f64], first: usize) -> (f64, usize, f64) {
    let stride = path.stride();
    let block = |v: &[f64], row: usize| -> [f64; BLOCK] { v[row..row + BLOCK].try_into().expect("rows are padded to whole blocks") };
    let (mut along_start, mut along_direction) = ([0.0; BLOCK], [0.0; BLOCK]);
    let mut x_sq = 0.0;
    for (i, (t, c)) in theta.iter().zip(&path.centre).enumerate() {
        let x = t - c;
        x_sq += x * x;
        let (a, d) = (block(&path.starts, i * stride + first), block(&path.directions, i * stride + first));
        for j in 0..BLOCK {
            along_start[j] += x * a[j];
            along_direction[j] += x * d[j];
        }
    }
    let (aa, along, start_sq) = (block(&path.length_sq, first), block(&path.start_along, first), block(&path.start_sq, first));
    let (low, high) = (block(&path.low, first), block(&path.high, first));
    let (mut t, mut d2) = ([0.0; BLOCK], [0.0; BLOCK]);
    for j in 0..BLOCK {
        let ab = along_direction[j] - along[j];
        let at_a = x_sq - 2.0 * along_start[j] + start_sq[j];
        t[j] = if aa[j] > 0.0 { (ab / aa[j]).clamp(low[j], high[j]) } else { 0.0 };
        d2[j] = at_a - 2.0 * t[j] * ab + t[j] * t[j] * aa[j];
    }
    let mut best = 0;
    for j in 1..BLOCK.min(path.arc.len() - first) {
        if d2[j] < d2[best] {
            best = j;
        }
    }
    (d2[best], first + best, t[best])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::saddle::{SaddleOptions, eigenvector_following};
    use crate::model::DoubleWell;

    /// On the double well L = ε + (θ₁² − 1)²/4 + θ₂² (stiffness 2) the MEP is the θ₁ axis: from
    /// (−1, 0) over the saddle (0, 0) to (1, 0), of length 2.
    #[test]
    fn double_well_path_is_the_axis() {
        let model = DoubleWell { epsilon: 0.1, dim: 2, stiffness: 2.0 };
        let saddle = eigenvector_following(&model, &[-1.0, 0.0], Some(&[1.0, 0.0]), SaddleOptions::default()).unwrap();
        let path = minimum_energy_path(&model, &[-1.0, 0.0], &saddle);
        assert_eq!(path.len(), VERTICES);
        assert_eq!(path[0], vec![-1.0, 0.0]);
        for p in &path {
            assert!(p[1].abs() < 1e-9 && p[0] >= -1.0 - 1e-12 && p[0] <= 1.0 + 1e-12, "{p:?}");
        }
        let arc = arc_lengths(&path);
        let total = *arc.last().unwrap();
        assert!((total - 2.0).abs() < 0.01, "{total}");
        // Arc length at an off-path point is that of its projection.
        assert!((PathProjection::new(&path).arc_length_at(&[0.0, 0.7]) - 1.0).abs() < 1e-9);
        // Behind θ* and beyond the far end, along the extended end segments.
        assert!((PathProjection::new(&path).arc_length_at(&[-1.5, 0.3]) + 0.5).abs() < 1e-9);
        assert!((PathProjection::new(&path).arc_length_at(&[1.25, -0.2]) - (total + 0.25)).abs() < 1e-9);
    }

    /// The blocked, expanded products give the nearest point's arc length of a direct
    /// computation per segment (|θ − (a + t d)|² with t clamped), on a random walk of 200
    /// vertices in 37 dimensions (four blocks of segments, the last partial), far from the
    /// origin, for points near the path, far from it, behind its start and beyond its end.
    #[test]
    fn projection_matches_a_direct_computation() {
        use rand::{RngExt, SeedableRng};
        let mut rng = crate::dynamics::rng::ReplicaRng::seed_from_u64(7);
        let p = 37;
        let mut points = vec![(0..p).map(|_| 5.0 + rng.random_range(-1.0..1.0)).collect::<Vec<f64>>()];
        for _ in 1..200 {
            let next = points.last().unwrap().iter().map(|x| x + rng.random_range(-0.05..0.05)).collect();
            points.push(next);
        }
        let arc = arc_lengths(&points);
        let direct = |theta: &[f64]| {
            let (mut best, mut at) = (f64::INFINITY, 0.0);
            for (k, w) in points.windows(2).enumerate() {
                let d: Vec<f64> = w[1].iter().zip(&w[0]).map(|(b, a)| b - a).collect();
                let rel: Vec<f64> = theta.iter().zip(&w[0]).map(|(t, a)| t - a).collect();
                let (low, high) = (if k == 0 { f64::NEG_INFINITY } else { 0.0 }, if k + 2 == points.len() { f64::INFINITY } else { 1.0 });
                let t = (linalg::dot(&rel, &d) / linalg::dot(&d, &d)).clamp(low, high);
                let d2: f64 = rel.iter().zip(&d).map(|(r, d)| (r - t * d).powi(2)).sum();
                if d2 < best {
                    best = d2;
                    at = arc[k] + t * linalg::norm(&d);
                }
            }
            at
        };
        let projection = PathProjection::new(&points);
        let last = points.len() - 1;
        let mut queries = Vec::new();
        for j in 0..60 {
            let base = &points[(j * 37) % points.len()];
            let spread = [0.01, 0.1, 1.0][j % 3];
            queries.push(base.iter().map(|x| x + spread * rng.random_range(-1.0..1.0)).collect::<Vec<f64>>());
        }
        // Behind the start and beyond the end, along the end segments.
        queries.push(points[0].iter().zip(&points[1]).map(|(a, b)| a - 3.0 * (b - a)).collect());
        queries.push(points[last].iter().zip(&points[last - 1]).map(|(a, b)| a + 3.0 * (a - b)).collect());
        for q in &queries {
            let (fast, slow) = (projection.arc_length_at(q), direct(q));
            assert!((fast - slow).abs() <= 1e-9 * arc[last], "{fast} against {slow}");
        }
        assert!(projection.arc_length_at(&queries[60]) < 0.0 && projection.arc_length_at(&queries[61]) > arc[last]);
        assert_eq!(PathProjection::new(&points[..1]).arc_length_at(&queries[0]), 0.0);
        assert_eq!(PathProjection::new(&[]).arc_length_at(&[]), 0.0);
    }

    /// A curved valley: L = (θ₂ − θ₁²)² + (θ₁² − 1)²/4, minima (±1, 1), saddle at the origin.
    /// Along the path the gradient is parallel to the tangent (the defining property of an MEP;
    /// the chord between the minima is far from it), and the path ends at the other minimum.
    #[test]
    fn curved_valley_path_follows_the_valley() {
        struct Valley;
        impl Model for Valley {
            fn dim(&self) -> usize {
                2
            }
            fn loss(&self, t: &[f64]) -> f64 {
                (t[1] - t[0] * t[0]).powi(2) + 0.25 * (t[0] * t[0] - 1.0).powi(2)
            }
            fn loss_and_gradient(&self, t: &[f64], g: &mut [f64]) -> f64 {
                let r = t[1] - t[0] * t[0];
                g[0] = -4.0 * t[0] * r + t[0] * (t[0] * t[0] - 1.0);
                g[1] = 2.0 * r;
                self.loss(t)
            }
        }
        impl crate::model::HessianProduct for Valley {
            fn hvp(&self, t: &[f64], v: &[f64], out: &mut [f64]) {
                let r = t[1] - t[0] * t[0];
                let h00 = -4.0 * r + 8.0 * t[0] * t[0] + 3.0 * t[0] * t[0] - 1.0;
                let h01 = -4.0 * t[0];
                out[0] = h00 * v[0] + h01 * v[1];
                out[1] = h01 * v[0] + 2.0 * v[1];
            }
        }
        let saddle = eigenvector_following(&Valley, &[-1.0, 1.0], Some(&[1.0, -1.0]), SaddleOptions::default()).unwrap();
        assert!(saddle.theta.iter().all(|x| x.abs() < 1e-6), "{:?}", saddle.theta);
        let path = minimum_energy_path(&Valley, &[-1.0, 1.0], &saddle);
        let mut worst: f64 = 0.0;
        let mut g = [0.0; 2];
        for w in path.windows(3) {
            let tangent: Vec<f64> = w[2].iter().zip(&w[0]).map(|(a, b)| a - b).collect();
            let t = linalg::norm(&tangent);
            Valley.loss_and_gradient(&w[1], &mut g);
            let along = linalg::dot(&g, &tangent) / t;
            let across = (linalg::dot(&g, &g) - along * along).max(0.0).sqrt();
            if linalg::norm(&g) > 1e-3 {
                worst = worst.max(across / linalg::norm(&g));
            }
        }
        assert!(worst < 0.05, "the gradient leaves the path's tangent by {worst} (relative)");
        // The chord θ₂ = 1 is not the path: at θ₁ = 0 the path passes through the saddle.
        assert!(path.iter().any(|p| p[0].abs() < 0.01 && p[1].abs() < 0.01));
        assert!((path.last().unwrap()[0] - 1.0).abs() < 0.02, "{:?}", path.last());
    }
}
