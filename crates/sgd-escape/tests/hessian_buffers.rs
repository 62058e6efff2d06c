//! A network's Hessian at one θ keeps its buffers between products: after the first products,
//! a product allocates less than one P-vector in all (before, every product allocated a
//! P-vector per sample group, their sum, and every block's R-pass buffers). Counted with a global
//! allocator that adds up the bytes requested by every thread; this file holds one test so that
//! no other test allocates meanwhile.

use sgd_escape::model::prelude::*;
use sgd_escape::model::{Activation, Dataset, Mlp};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// 1500 samples (3 sample groups of 2 blocks each), a 12-40-30-3 network (P = 1843), both
/// activations, on 2 threads: the fourth and fifth products allocate under P · 8 bytes.
#[test]
fn products_at_one_point_reuse_their_buffers() {
    let n = 1500;
    let base = Dataset::gaussian(n, 12, 5, |_, _| 0.0);
    let y: Vec<f64> = (0..n).flat_map(|mu| (0..3).map(move |k| ((mu * 7 + k * 3) % 5) as f64 / 5.0 - 0.4)).collect();
    let data = Dataset { features: 12, outputs: 3, x: base.x, y };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for activation in [Activation::Relu, Activation::Tanh] {
        let model = Mlp::new(&[40, 30], activation, data.clone()).unwrap();
        let p = model.dim();
        let theta = model.glorot(3);
        let v: Vec<f64> = (0..p).map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0).collect();
        let mut hv = vec![0.0; p];
        let at = model.hessian_at(&theta).expect("a small linearisation");
        pool.install(|| {
            // Products on both threads first, so that each has its block buffers.
            for _ in 0..3 {
                at.hvp(&v, &mut hv);
            }
            let before = BYTES.load(Ordering::Relaxed);
            at.hvp(&v, &mut hv);
            at.hvp(&v, &mut hv);
            let bytes = BYTES.load(Ordering::Relaxed) - before;
            assert!(bytes < p * 8, "{activation:?}: two products allocated {bytes} bytes, a P-vector is {}", p * 8);
        });
        assert!(hv.iter().all(|x| x.is_finite()));
    }
}
