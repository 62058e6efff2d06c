//! Exact mean exit times of one-dimensional Markov chains: SGD itself at finite η, and the
//! Euler–Maruyama scheme of an SDE at its step (docs/theory.md eq. 22).
//!
//! A chain on θ ∈ R with transition kernel K(θ, ·) leaves the interval D = (lower, upper)
//! (through an absorbing end; a reflecting end confines it) after m(θ) steps on average, where
//!
//! `m(θ) = c(θ) + ∫_D m(x) K(θ, dx)` for θ ∈ D,  m = 0 beyond an absorbing end,
//!
//! with cost c(θ) = 1 a step (or the time a step takes). For SGD with B = 1 and indices drawn
//! with replacement the kernel is a mixture of the N maps θ ↦ θ − η r_μ(θ) f'_μ(θ), each of
//! weight 1/N ([`SgdKernel`]); for Euler–Maruyama it is Gaussian ([`GaussianKernel`]).
//!
//! m is represented on a uniform grid of M nodes by its piecewise-linear interpolant. Each
//! transition contributes its exact weight on the nodes (an atom by linear interpolation, a
//! Gaussian by integrating the interpolant in closed form), which gives the linear system
//! `(I − P) m = c`, solved by LU with partial pivoting. M doubles until m(start) moves by less
//! than the tolerance (0.1% by default); a reflecting end, where the grid must stop somewhere,
//! is moved twice as far out until that too changes m(start) by less than the tolerance.

use crate::linalg;
use faer::Mat;
use faer::linalg::solvers::Solve;
use rayon::prelude::*;
use serde::Serialize;
use statrs::function::erf::erfc;

/// What lies beyond an end of the interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// Beyond it the chain has exited (m = 0): a coordinate threshold or a loss level.
    Absorbing,
    /// The grid stops here, but the chain does not exit: it is confined by the drift, and points
    /// beyond the end are counted at the end. The end is moved out until this does not matter.
    Reflecting,
}

/// The interval the chain lives in, with what lies beyond each end.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Domain {
    /// Lower end.
    pub lower: f64,
    /// What lies below it.
    pub below: End,
    /// Upper end.
    pub upper: f64,
    /// What lies above it.
    pub above: End,
}

/// Where one step from θ goes: atoms (x, weight) and Gaussians (mean, sd, weight), weights
/// summing to 1.
#[derive(Clone, Debug, Default)]
pub struct Transitions {
    atoms: Vec<(f64, f64)>,
    gaussians: Vec<(f64, f64, f64)>,
}

impl Transitions {
    /// Moves to x with probability `weight`.
    pub fn atom(&mut self, x: f64, weight: f64) {
        self.atoms.push((x, weight));
    }
    /// Moves to N(mean, sd²) with probability `weight`.
    pub fn gaussian(&mut self, mean: f64, sd: f64, weight: f64) {
        self.gaussians.push((mean, sd, weight));
    }
    fn clear(&mut self) {
        self.atoms.clear();
        self.gaussians.clear();
    }
}

/// A Markov chain on R: its transitions and the cost of a step.
pub trait Kernel: Sync {
    /// The law of the next state from θ.
    fn transitions(&self, theta: f64, out: &mut Transitions);
    /// What a step from θ adds to the mean (1 to count steps; the elapsed time otherwise).
    fn cost(&self, _theta: f64) -> f64 {
        1.0
    }
}

/// SGD with batch size 1 and indices drawn with replacement on a one-parameter model:
/// θ ↦ θ − η r_μ(θ) f'_μ(θ) with μ uniform over the N samples (docs/theory.md eq. 2).
/// `steps(θ, out)` appends the N states one step can reach.
pub struct SgdKernel<F> {
    /// The N next states from θ.
    pub steps: F,
}

impl<F: Fn(f64, &mut Vec<f64>) + Sync> Kernel for SgdKernel<F> {
    fn transitions(&self, theta: f64, out: &mut Transitions) {
        let mut next = Vec::new();
        (self.steps)(theta, &mut next);
        let weight = 1.0 / next.len() as f64;
        out.atoms.extend(next.into_iter().map(|x| (x, weight)));
    }
}

/// An Euler–Maruyama step θ ↦ N(mean(θ), sd(θ)²) (docs/theory.md eq. 10), each step costing
/// `dt` (or `cost(θ)` when steps differ in length, as under a time change).
pub struct GaussianKernel<M, S, C> {
    /// θ + drift·dt.
    pub mean: M,
    /// The standard deviation of the step.
    pub sd: S,
    /// The time a step takes.
    pub cost: C,
}

impl<M: Fn(f64) -> f64 + Sync, S: Fn(f64) -> f64 + Sync, C: Fn(f64) -> f64 + Sync> Kernel for GaussianKernel<M, S, C> {
    fn transitions(&self, theta: f64, out: &mut Transitions) {
        out.gaussian((self.mean)(theta), (self.sd)(theta), 1.0);
    }
    fn cost(&self, theta: f64) -> f64 {
        (self.cost)(theta)
    }
}

/// When [`mean_exit_time`] stops refining.
#[derive(Clone, Copy, Debug)]
pub struct ChainOptions {
    /// Relative change of m(start) below which the grid (and a reflecting end) counts as
    /// converged.
    pub tolerance: f64,
    /// Nodes of the first grid.
    pub initial_nodes: usize,
    /// The largest grid (the dense system takes 8M² bytes).
    pub max_nodes: usize,
}

impl Default for ChainOptions {
    fn default() -> Self {
        ChainOptions { tolerance: 1e-3, initial_nodes: 200, max_nodes: 6400 }
    }
}

/// The mean exit time from `start` and how it was reached.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChainSolution {
    /// m(start), in the kernel's cost units (steps for SGD).
    pub mean: f64,
    /// Nodes of the finest grid.
    pub nodes: usize,
    /// The domain of the finest grid (a reflecting end as far out as it was moved).
    pub domain: Domain,
    /// |m_fine − m_coarse|/m_fine between the last two grids (and reflecting ends).
    pub relative_change: f64,
    /// Whether the change fell below the tolerance within `max_nodes`.
    pub converged: bool,
    /// Whether the mean is the quasi-stationary estimate (for exit times beyond 10¹⁰ steps,
    /// where the linear solve loses digits) rather than the linear solve from `start`.
    pub quasi_stationary: bool,
    /// (nodes, m(start)) of every grid solved.
    pub history: Vec<(usize, f64)>,
}

/// The grid: M nodes with spacing h. At a reflecting end the first (last) node sits on the
/// end; at an absorbing end half a spacing inside it.
#[derive(Clone, Copy, Debug)]
struct Grid {
    domain: Domain,
    first: f64,
    h: f64,
    m: usize,
}

impl Grid {
    fn new(domain: Domain, m: usize) -> Self {
        let inset = |end: End| if end == End::Absorbing { 0.5 } else { 0.0 };
        let (lo, hi) = (inset(domain.below), inset(domain.above));
        let h = (domain.upper - domain.lower) / ((m - 1) as f64 + lo + hi);
        Grid { domain, first: domain.lower + lo * h, h, m }
    }

    /// The number of nodes that gives `domain` the spacing `h` (rounded).
    fn nodes_for(domain: Domain, h: f64) -> usize {
        let inset = |end: End| if end == End::Absorbing { 0.5 } else { 0.0 };
        ((domain.upper - domain.lower) / h - inset(domain.below) - inset(domain.above)).round() as usize + 1
    }

    fn node(&self, i: usize) -> f64 {
        self.first + i as f64 * self.h
    }

    /// Adds `weight` × (the interpolant's coefficients at x) to `row`; returns the weight that
    /// left through an absorbing end.
    fn deposit_atom(&self, x: f64, weight: f64, row: &mut [f64]) -> f64 {
        let d = self.domain;
        if x < d.lower {
            if d.below == End::Reflecting {
                row[0] += weight;
                return 0.0;
            }
            return weight;
        }
        if x >= d.upper {
            if d.above == End::Reflecting {
                row[self.m - 1] += weight;
                return 0.0;
            }
            return weight;
        }
        // Cell j with t ∈ [0, 1) inside, or linear extrapolation in the half cells at the ends.
        let u = (x - self.first) / self.h;
        let j = (u.floor().max(0.0) as usize).min(self.m - 2);
        let t = u - j as f64;
        row[j] += weight * (1.0 - t);
        row[j + 1] += weight * t;
        0.0
    }

    /// Adds `weight` × E[interpolant coefficients at X], X ~ N(mean, sd²), to `row`, exactly for
    /// the piecewise-linear interpolant (linear on each cell, extrapolated on the half cells,
    /// constant at a reflecting end beyond it, zero beyond an absorbing end); returns the weight
    /// that left through an absorbing end.
    fn deposit_gaussian(&self, mean: f64, sd: f64, weight: f64, row: &mut [f64]) -> f64 {
        if sd.is_nan() || sd <= 1e-9 * self.h {
            return self.deposit_atom(mean, weight, row);
        }
        let d = self.domain;
        let z = |x: f64| (x - mean) / sd;
        let cdf = |x: f64| 0.5 * erfc(-z(x) / std::f64::consts::SQRT_2);
        // P(X > x) without cancellation in the far tail.
        let survival = |x: f64| 0.5 * erfc(z(x) / std::f64::consts::SQRT_2);
        let pdf = |x: f64| (-0.5 * z(x) * z(x)).exp() / (2.0 * std::f64::consts::PI).sqrt();
        // Probability and first moment of X on [u, v].
        let moments = |u: f64, v: f64| {
            let p = cdf(v) - cdf(u);
            (p, mean * p + sd * (pdf(u) - pdf(v)))
        };
        // Linear piece on [u, v] with nodes (j, j + 1): coefficient of m_j is E[1 − (X − θ_j)/h],
        // of m_{j+1} E[(X − θ_j)/h].
        let piece = |u: f64, v: f64, j: usize, row: &mut [f64]| {
            if v <= u {
                return;
            }
            let (p, first) = moments(u, v);
            let s = (first - self.node(j) * p) / self.h;
            row[j] += weight * (p - s);
            row[j + 1] += weight * s;
        };
        let reach = 12.0 * sd;
        let (lo, hi) = ((mean - reach).max(d.lower), (mean + reach).min(d.upper));
        if lo < hi {
            // Cells 0..m−2 cover [first, last]; the half cells [lower, first) and (last, upper)
            // extrapolate cells 0 and m − 2.
            let j0 = (((lo - self.first) / self.h).floor().max(0.0) as usize).min(self.m - 2);
            let j1 = (((hi - self.first) / self.h).floor().max(0.0) as usize).min(self.m - 2);
            for j in j0..=j1 {
                let u = if j == 0 { d.lower } else { self.node(j) };
                let v = if j == self.m - 2 { d.upper } else { self.node(j + 1) };
                piece(u.max(lo), v.min(hi), j, row);
            }
        }
        let (below, above) = (weight * cdf(d.lower), weight * survival(d.upper));
        let mut exited = 0.0;
        match d.below {
            End::Reflecting => row[0] += below,
            End::Absorbing => exited += below,
        }
        match d.above {
            End::Reflecting => row[self.m - 1] += above,
            End::Absorbing => exited += above,
        }
        exited
    }

    /// m(x) from the node values.
    fn interpolate(&self, values: &[f64], x: f64) -> f64 {
        let mut row = vec![0.0; self.m];
        self.deposit_atom(x, 1.0, &mut row);
        linalg::dot(&row, values)
    }
}

/// Above this many steps the linear solve loses digits (the condition number of I − P grows
/// with the mean exit time), and the quasi-stationary estimate is used instead.
const DIRECT_SOLVE_LIMIT: f64 = 1e10;

/// One grid's two estimates of the mean exit time from `start`.
struct GridSolution {
    /// m(start) from the linear solve `(I − P) m = c`.
    direct: f64,
    /// The mean exit time from the quasi-stationary law π (the left eigenvector of P for its
    /// largest eigenvalue, by inverse iteration): `Σ π_i c_i / Σ π_i d_i`, with d_i the
    /// probability to exit in one step from node i, accumulated directly (not as 1 − row sum).
    quasi_stationary: f64,
    /// The mean number of steps from the quasi-stationary law (`1/Σ π d` with π normalised).
    quasi_stationary_steps: f64,
}

/// Assembles `I − P` on one grid and solves it.
fn solve_grid(kernel: &dyn Kernel, grid: &Grid, start: f64) -> GridSolution {
    let m = grid.m;
    let mut system = vec![0.0; m * m];
    let mut cost = vec![0.0; m];
    let mut exit = vec![0.0; m];
    system.par_chunks_mut(m).zip(cost.par_iter_mut().zip(exit.par_iter_mut())).enumerate().for_each_init(
        Transitions::default,
        |out, (i, (row, (c, d)))| {
            let theta = grid.node(i);
            out.clear();
            kernel.transitions(theta, out);
            let mut exited = 0.0;
            for &(x, w) in &out.atoms {
                exited += grid.deposit_atom(x, w, row);
            }
            for &(mean, sd, w) in &out.gaussians {
                exited += grid.deposit_gaussian(mean, sd, w, row);
            }
            row.iter_mut().for_each(|p| *p = -*p);
            row[i] += 1.0;
            *c = kernel.cost(theta);
            *d = exited;
        },
    );
    let lu = Mat::<f64>::from_fn(m, m, |i, j| system[i * m + j]).partial_piv_lu();
    let mut values = Mat::<f64>::from_fn(m, 1, |i, _| cost[i]);
    lu.solve_in_place(&mut values);
    let values: Vec<f64> = (0..m).map(|i| values[(i, 0)]).collect();
    // Inverse iteration for the quasi-stationary law: (I − P)ᵀ π = π_old, twice from uniform.
    let mut pi = Mat::<f64>::from_fn(m, 1, |_, _| 1.0);
    for _ in 0..3 {
        lu.solve_transpose_in_place(&mut pi);
        let norm = (0..m).map(|i| pi[(i, 0)].abs()).sum::<f64>();
        (0..m).for_each(|i| pi[(i, 0)] /= norm);
    }
    let (mut mass, mut flux, mut spent) = (0.0, 0.0, 0.0);
    for i in 0..m {
        let p = pi[(i, 0)].abs();
        mass += p;
        flux += p * exit[i];
        spent += p * cost[i];
    }
    GridSolution { direct: grid.interpolate(&values, start), quasi_stationary: spent / flux, quasi_stationary_steps: mass / flux }
}

/// The mean exit time (in the kernel's cost units) of the chain from `start` ∈ (lower, upper),
/// refined until it moves by less than `options.tolerance` (see the module documentation).
///
/// The interpolation error of the grid falls as h², so each refinement is extrapolated to
/// h → 0 (Richardson: `(4 m_h/2 − m_h)/3`), and the estimate is converged when two successive
/// extrapolations agree within the tolerance. A reflecting end is then moved out by half the
/// interval at the same spacing; the estimate stands if that moves m(start) by less than the
/// tolerance, and is redone on the wider interval otherwise.
pub fn mean_exit_time(kernel: &dyn Kernel, domain: Domain, start: f64, options: ChainOptions) -> ChainSolution {
    assert!(domain.lower < start && start < domain.upper, "the start {start} must lie inside the domain {domain:?}");
    let mut history = Vec::new();
    // The linear solve while the mean exit time is moderate, the quasi-stationary estimate
    // (exact up to the relaxation time, a negligible fraction of so long a time) beyond; the
    // coarsest grid decides, so that every grid uses the same one.
    let quasi_stationary = std::cell::Cell::new(None);
    let mut solve = |domain: Domain, nodes: usize| {
        let grid = Grid::new(domain, nodes);
        let solution = solve_grid(kernel, &grid, start);
        let use_qs = quasi_stationary
            .get()
            .unwrap_or(solution.quasi_stationary_steps > DIRECT_SOLVE_LIMIT || !(solution.direct.is_finite() && solution.direct > 0.0));
        quasi_stationary.set(Some(use_qs));
        let value = if use_qs { solution.quasi_stationary } else { solution.direct };
        history.push((nodes, value));
        value
    };
    let change = |a: f64, b: f64| ((b - a) / b).abs();
    let mut domain = domain;
    let mut nodes = options.initial_nodes.max(8);
    loop {
        // Refine: m on grids of nodes, 2·nodes, …; Richardson estimates from successive pairs.
        let mut plain = solve(domain, nodes);
        let mut estimate = f64::NAN;
        let mut relative = f64::INFINITY;
        while nodes * 2 <= options.max_nodes && (relative.is_nan() || relative >= options.tolerance) {
            nodes *= 2;
            let finer = solve(domain, nodes);
            let extrapolated = (4.0 * finer - plain) / 3.0;
            relative = if estimate.is_nan() { f64::INFINITY } else { change(estimate, extrapolated) };
            estimate = extrapolated;
            plain = finer;
        }
        if estimate.is_nan() {
            estimate = plain;
        }
        let converged = relative < options.tolerance;
        let done = |domain: Domain, nodes: usize, relative: f64, converged: bool, history: Vec<(usize, f64)>| ChainSolution {
            mean: estimate,
            nodes,
            domain,
            relative_change: relative,
            converged,
            quasi_stationary: quasi_stationary.get() == Some(true),
            history,
        };
        // Move each reflecting end out by half the interval, at the same spacing.
        let width = domain.upper - domain.lower;
        let mut wider = domain;
        if domain.below == End::Reflecting {
            wider.lower -= 0.5 * width;
        }
        if domain.above == End::Reflecting {
            wider.upper += 0.5 * width;
        }
        let wider_nodes = Grid::nodes_for(wider, Grid::new(domain, nodes).h);
        if !converged || wider == domain || wider_nodes > options.max_nodes {
            let reached = converged && wider == domain;
            return done(domain, nodes, relative, reached, history);
        }
        let moved = change(plain, solve(wider, wider_nodes));
        if moved < options.tolerance {
            return done(domain, nodes, relative.max(moved), true, history);
        }
        domain = wider;
        nodes = options.initial_nodes.max(8);
    }
}

/// The stationary expectation E_π[f] of a chain confined to [lower, upper] (both ends
/// reflecting), for laws with heavy tails: the grid is uniform in s = asinh((θ − center)/scale),
/// so that it reaches far out with few nodes while resolving the bulk (docs/theory.md eq. 22).
/// Transitions must be atoms (the SGD kernel). π solves πᵀ(I − P) = 0, Σπ = 1 on the grid;
/// E_π[f] = Σ π_i f(θ_i). Refined like [`mean_exit_time`]: the node count doubles (with
/// Richardson extrapolation) until two estimates agree within the tolerance, then both ends move
/// out by a factor 10 in θ and must change the estimate by less than the tolerance.
pub fn stationary_expectation(
    kernel: &dyn Kernel,
    lower: f64,
    upper: f64,
    center: f64,
    scale: f64,
    f: &(dyn Fn(f64) -> f64 + Sync),
    options: ChainOptions,
) -> StationaryExpectation {
    let stretch = |x: f64| ((x - center) / scale).asinh();
    let unstretch = |s: f64| center + scale * s.sinh();
    let solve = |lower: f64, upper: f64, m: usize| -> (f64, Vec<f64>, Vec<f64>) {
        let (s0, s1) = (stretch(lower), stretch(upper));
        let h = (s1 - s0) / (m - 1) as f64;
        let node = |i: usize| unstretch(s0 + i as f64 * h);
        let mut system = vec![0.0; m * m];
        system.par_chunks_mut(m).enumerate().for_each_init(Transitions::default, |out, (i, row)| {
            out.clear();
            kernel.transitions(node(i), out);
            assert!(out.gaussians.is_empty(), "stationary laws on a stretched grid take atoms only");
            for &(x, w) in &out.atoms {
                let u = ((stretch(x.clamp(lower, upper)) - s0) / h).clamp(0.0, (m - 1) as f64);
                let j = (u.floor() as usize).min(m - 2);
                let t = u - j as f64;
                row[j] += w * (1.0 - t);
                row[j + 1] += w * t;
            }
        });
        // πᵀ(I − P) = 0: the transpose system, its last equation replaced by Σπ = 1.
        let a = Mat::<f64>::from_fn(m, m, |r, c| if r == m - 1 { 1.0 } else { (if r == c { 1.0 } else { 0.0 }) - system[c * m + r] });
        let mut pi = Mat::<f64>::from_fn(m, 1, |r, _| if r == m - 1 { 1.0 } else { 0.0 });
        a.partial_piv_lu().solve_in_place(&mut pi);
        let nodes: Vec<f64> = (0..m).map(node).collect();
        let masses: Vec<f64> = (0..m).map(|i| pi[(i, 0)]).collect();
        (nodes.iter().zip(&masses).map(|(x, p)| p * f(*x)).sum(), nodes, masses)
    };
    let change = |a: f64, b: f64| ((b - a) / b).abs();
    let (mut lo, mut hi) = (lower, upper);
    let mut history = Vec::new();
    let mut last = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let mut nodes = options.initial_nodes.max(8);
        let (mut plain, mut at, mut masses) = solve(lo, hi, nodes);
        history.push((nodes, plain));
        let (mut estimate, mut relative) = (f64::NAN, f64::INFINITY);
        while nodes * 2 <= options.max_nodes && (relative.is_nan() || relative >= options.tolerance) {
            nodes *= 2;
            let finer;
            (finer, at, masses) = solve(lo, hi, nodes);
            history.push((nodes, finer));
            let extrapolated = (4.0 * finer - plain) / 3.0;
            relative = if estimate.is_nan() { f64::INFINITY } else { change(estimate, extrapolated) };
            estimate = extrapolated;
            plain = finer;
        }
        let done = |value: f64, relative: f64, converged: bool, history: Vec<(usize, f64)>, nodes: Vec<f64>, masses: Vec<f64>| {
            StationaryExpectation { value, relative_change: relative, converged, lower: lo, upper: hi, history, nodes, masses }
        };
        if relative.is_nan() || relative >= options.tolerance {
            return done(estimate, relative, false, history, at, masses);
        }
        let (wide_lo, wide_hi) = (center - 10.0 * (center - lo), center + 10.0 * (hi - center));
        let (wide, wide_at, wide_masses) = solve(wide_lo, wide_hi, nodes);
        history.push((nodes, wide));
        let moved = change(plain, wide);
        if moved < options.tolerance {
            return done(estimate, relative.max(moved), true, history, at, masses);
        }
        (lo, hi) = (wide_lo, wide_hi);
        last = (wide_at, wide_masses);
    }
    let value = history.last().map(|h| h.1).unwrap_or(f64::NAN);
    StationaryExpectation {
        value,
        relative_change: f64::INFINITY,
        converged: false,
        lower: lo,
        upper: hi,
        history,
        nodes: last.0,
        masses: last.1,
    }
}

/// A stationary expectation and how it was reached.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StationaryExpectation {
    /// E_π[f].
    pub value: f64,
    /// Relative change between the last two estimates (grid refinement or wider ends).
    pub relative_change: f64,
    /// Whether it fell below the tolerance.
    pub converged: bool,
    /// The interval of the final grid.
    pub lower: f64,
    /// Its upper end.
    pub upper: f64,
    /// (nodes, plain estimate) of every grid solved.
    pub history: Vec<(usize, f64)>,
    /// The nodes of the final grid.
    #[serde(skip)]
    pub nodes: Vec<f64>,
    /// The stationary masses on them (summing to 1).
    #[serde(skip)]
    pub masses: Vec<f64>,
}
