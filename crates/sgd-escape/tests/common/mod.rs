//! Helpers shared by the integration tests (not part of the library).

use sgd_escape::data::{FASHION_MNIST_DIR, fashion_mnist_available};
use std::path::Path;

/// For tests that read Fashion-MNIST: `true` when it is installed. When it is not, returns
/// `false` after printing a notice, unless the environment variable
/// `SGD_ESCAPE_REQUIRE_FASHION_MNIST` is set (as `.ci/run` does), in which case it panics:
/// CI must not skip these tests silently.
pub fn fashion_mnist_for_tests() -> bool {
    if fashion_mnist_available(Path::new(FASHION_MNIST_DIR)) {
        return true;
    }
    assert!(
        std::env::var_os("SGD_ESCAPE_REQUIRE_FASHION_MNIST").is_none(),
        "Fashion-MNIST is required (SGD_ESCAPE_REQUIRE_FASHION_MNIST is set) but not installed in {FASHION_MNIST_DIR}"
    );
    eprintln!("skipped: Fashion-MNIST is not installed in {FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)");
    false
}
