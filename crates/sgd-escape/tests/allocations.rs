//! SGD on a network allocates nothing per step: the minibatch gradient keeps its activations
//! in the stepper's workspace. Counted with a global allocator that counts the allocations of
//! the test's own thread.

use sgd_escape::dynamics::rng::replica_rng;
use sgd_escape::dynamics::{Sampling, Sgd, Stepper};
use sgd_escape::model::prelude::*;
use sgd_escape::model::{Activation, Dataset, Mlp};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(|c| c.get())
}

fn network(activation: Activation) -> Mlp {
    let base = Dataset::gaussian(300, 12, 5, |_, _| 0.0);
    let y: Vec<f64> = (0..300).flat_map(|mu| (0..3).map(move |k| ((mu * 7 + k * 3) % 5) as f64 / 5.0 - 0.4)).collect();
    Mlp::new(&[20, 9], activation, Dataset { features: 12, outputs: 3, x: base.x, y }).unwrap()
}

/// After the first step, 200 steps of SGD (with and without replacement, B = 1 and 32, ReLU
/// and tanh) make no allocation at all; nor do 20 steps of a 784-100-100-1 network at B = 100.
#[test]
fn sgd_steps_on_a_network_allocate_nothing() {
    for activation in [Activation::Relu, Activation::Tanh] {
        let mlp = network(activation);
        for (b, sampling) in [(1, Sampling::WithReplacement), (32, Sampling::WithReplacement), (32, Sampling::WithoutReplacement)] {
            let sgd = Sgd::new(&mlp, 0.01, b, sampling).unwrap();
            let mut ws = sgd.workspace();
            let mut rng = replica_rng(1, 0);
            let mut theta = mlp.glorot(2);
            sgd.step(&mut theta, &mut ws, &mut rng);
            let before = allocations();
            for _ in 0..200 {
                sgd.step(&mut theta, &mut ws, &mut rng);
            }
            assert_eq!(allocations() - before, 0, "{activation:?}, B = {b}, {sampling:?}");
        }
    }
    // Wide enough layers for the matrix products to block and pack (W3's shapes, smaller N).
    let base = Dataset::gaussian(400, 784, 1, |_, _| 0.0);
    let y: Vec<f64> = (0..400).map(|mu| if mu % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let wide = Mlp::new(&[100, 100], Activation::Relu, Dataset { features: 784, outputs: 1, x: base.x, y }).unwrap();
    let sgd = Sgd::new(&wide, 0.01, 100, Sampling::WithReplacement).unwrap();
    let (mut ws, mut rng, mut theta) = (sgd.workspace(), replica_rng(1, 0), wide.glorot(0));
    sgd.step(&mut theta, &mut ws, &mut rng);
    let before = allocations();
    for _ in 0..20 {
        sgd.step(&mut theta, &mut ws, &mut rng);
    }
    assert_eq!(allocations() - before, 0, "784-100-100-1, B = 100");
}

/// The scratch-based minibatch gradient: the same bits with a fresh or a reused buffer (also
/// one left over from a larger batch), and equal to the mean of per-sample gradients to
/// rounding.
#[test]
fn the_reused_buffer_gives_the_same_gradient() {
    let mlp = network(Activation::Tanh);
    let theta = mlp.glorot(3);
    let p = mlp.dim();
    let mut scratch = Vec::new();
    let big: Vec<usize> = (0..64).map(|i| (i * 37) % 300).collect();
    let (mut g_big, mut fresh, mut reused) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    mlp.minibatch_gradient_with(&theta, &big, &mut g_big, &mut scratch);
    let batch = [4, 17, 17, 250, 99];
    mlp.minibatch_gradient(&theta, &batch, &mut fresh);
    mlp.minibatch_gradient_with(&theta, &batch, &mut reused, &mut scratch);
    assert_eq!(fresh, reused);
    let mut mean = vec![0.0; p];
    let mut g = vec![0.0; p];
    for &mu in &batch {
        mlp.sample_loss_gradient(&theta, mu, &mut g);
        mean.iter_mut().zip(&g).for_each(|(m, x)| *m += x / batch.len() as f64);
    }
    let scale = mean.iter().map(|v| v.abs()).fold(0.0, f64::max);
    for (a, b) in fresh.iter().zip(&mean) {
        assert!((a - b).abs() <= 1e-13 * scale, "{a} vs {b}");
    }
}
