//! Sizes computed from input: checked arithmetic, and a memory estimate before every large
//! allocation. An estimate above the memory this process may use (the machine's memory, or
//! the address-space limit of `ulimit -v` when that is lower) is refused with an error that
//! names the key, its value and the estimate, instead of an abort when the allocation fails.

use crate::error::{Error, Result};
use std::fmt::Display;

/// The product of `factors`, or `None` when it overflows.
pub fn product(factors: &[usize]) -> Option<usize> {
    factors.iter().try_fold(1usize, |p, &f| p.checked_mul(f))
}

/// The bytes of `count` values of `bytes_each` bytes, or `None` on overflow.
pub fn bytes(count: usize, bytes_each: usize) -> Option<u128> {
    Some(count as u128 * bytes_each as u128)
}

fn meminfo_total() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn address_space_limit() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The memory this process may use, in bytes: the smaller of the machine's memory and the
/// address-space limit; `None` where neither can be read.
pub fn memory_available() -> Option<u128> {
    match (meminfo_total(), address_space_limit()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A byte count for messages: "3.2 GB".
pub fn human(bytes: u128) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} bytes") } else { format!("{value:.1} {}", units[unit]) }
}

/// Refuses an allocation of `needed` bytes (`None`: the size overflows) for `what`, caused by
/// `key` = `value`, when it exceeds [`memory_available`].
pub fn require_memory(key: &str, value: impl Display, what: &str, needed: Option<u128>) -> Result<()> {
    let Some(needed) = needed else {
        return Err(Error::invalid(key, value, format!("{what} would need more memory than any machine has (the size overflows)")));
    };
    match memory_available() {
        Some(available) if needed > available => Err(Error::invalid(
            key,
            value,
            format!("{what} needs about {} of memory, more than the {} this process may use", human(needed), human(available)),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_bytes_are_checked() {
        assert_eq!(product(&[3, 4, 5]), Some(60));
        assert_eq!(product(&[1 << 40, 1 << 30]), None);
        assert_eq!(bytes(1 << 61, 8), Some(1u128 << 64));
    }

    #[test]
    fn estimates_above_the_machine_are_refused_naming_the_key() {
        let e = require_memory("replicas", 1_000_000_000_000u64, "the replicas' outcomes", Some(1 << 100)).unwrap_err().to_string();
        assert!(e.contains("`replicas`") && e.contains("1000000000000") && e.contains("memory"), "{e}");
        assert!(require_memory("model.dim", 1, "x", None).is_err());
        assert!(require_memory("model.dim", 1, "x", Some(1024)).is_ok());
        assert_eq!(human(3_200_000_000), "3.2 GB");
        assert!(memory_available().is_some_and(|m| m > 1 << 20), "readable on Linux");
    }
}
