//! Test support: a device, fresh random inputs, poisoned outputs and the error check
//! that every kernel test uses.

use cubecl::prelude::*;
use cubecl::server::Handle;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

/// The device kernel tests run on: CUDA when built with the `cuda` feature, else wgpu
/// (lavapipe on machines without a GPU).
pub struct TestBed {
    pub client: Client,
}

thread_local! {
    /// Each test thread draws from its own seeded generator; the seed is in every
    /// failure message, and `SIGHTLINE_TEST_SEED=N` replays it.
    static RNG: RefCell<(u64, rand::rngs::StdRng)> = RefCell::new({
        let seed = std::env::var("SIGHTLINE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| rand::rng().random());
        (seed, rand::rngs::StdRng::seed_from_u64(seed))
    });
}

/// The seed of this test thread's random inputs.
pub fn seed() -> u64 {
    RNG.with(|r| r.borrow().0)
}

impl TestBed {
    pub fn seed(&self) -> u64 {
        seed()
    }

    pub fn new() -> TestBed {
        let device = crate::device::DeviceChoice::test_default()
            .open()
            .expect("kernel tests need a cubecl device (install mesa-vulkan-drivers)");
        TestBed {
            client: device.client().clone(),
        }
    }

    pub fn upload(&self, values: &[f32]) -> Handle {
        self.client.create_from_slice(f32::as_bytes(values))
    }

    /// A buffer of `len` NaNs: an element the kernel fails to write stays NaN and fails
    /// [`assert_close`].
    pub fn poisoned(&self, len: usize) -> Handle {
        self.upload(&vec![f32::NAN; len])
    }

    pub fn download(&self, handle: &Handle) -> Vec<f32> {
        let bytes = self.client.read_one(handle.clone()).expect("read back");
        f32::from_bytes(&bytes).to_vec()
    }
}

/// Uniform values in `[-scale, scale)`, different on every run unless
/// `SIGHTLINE_TEST_SEED` is set (see [`seed`]).
pub fn random_vec(len: usize, scale: f32) -> Vec<f32> {
    RNG.with(|r| {
        let rng = &mut r.borrow_mut().1;
        (0..len).map(|_| rng.random_range(-scale..scale)).collect()
    })
}

/// Random bytes, seeded like [`random_vec`].
pub fn random_bytes(len: usize) -> Vec<u8> {
    RNG.with(|r| {
        let rng = &mut r.borrow_mut().1;
        (0..len).map(|_| rng.random()).collect()
    })
}

/// Relative L2 error below 1e-5 and every element finite (so none was left unwritten).
pub fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
    let what = &format!("{what} (SIGHTLINE_TEST_SEED={})", seed());
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    if let Some(i) = actual.iter().position(|v| !v.is_finite()) {
        panic!(
            "{what}: element {i} of {} not written (or not finite): {}",
            actual.len(),
            actual[i]
        );
    }
    let (mut diff, mut norm) = (0f64, 0f64);
    for (a, e) in actual.iter().zip(expected) {
        diff += (*a as f64 - *e as f64).powi(2);
        norm += (*e as f64).powi(2);
    }
    let rel = (diff / norm.max(1e-30)).sqrt();
    assert!(rel < 1e-5, "{what}: relative L2 error {rel:e} >= 1e-5");
}
