//! Validated numbers: each configuration value that has a range carries it in its type, so a
//! parsed configuration cannot hold an invalid one. Deserialising an out-of-range value is an
//! error that states the value and the range; the configuration reader adds the key.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

macro_rules! checked_float {
    ($(#[$doc:meta])* $name:ident, $check:expr, $range:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            /// The value, if it is in range; else a message stating the value and the range.
            pub fn new(value: f64) -> Result<Self, String> {
                let check: fn(f64) -> bool = $check;
                if check(value) { Ok($name(value)) } else { Err(format!("{value} is not {}", $range)) }
            }
            /// The number.
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $name::new(f64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

checked_float!(
    /// A finite number.
    Finite,
    |v| v.is_finite(),
    "a finite number"
);
checked_float!(
    /// A finite number > 0.
    Positive,
    |v| v.is_finite() && v > 0.0,
    "a finite number > 0"
);
checked_float!(
    /// A finite number ≥ 0.
    NonNegative,
    |v| v.is_finite() && v >= 0.0,
    "a finite number ≥ 0"
);
checked_float!(
    /// A finite number > 1 (a ratio such as L/L* or a spectral gap).
    AboveOne,
    |v| v.is_finite() && v > 1.0,
    "a finite number > 1"
);
checked_float!(
    /// A relative tolerance, in (0, 1).
    Tolerance,
    |v| v > 0.0 && v < 1.0,
    "a number between 0 and 1 (exclusive)"
);

/// An integer ≥ `MIN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AtLeast<const MIN: usize>(usize);

/// A count ≥ 1 (replicas, samples, widths, dimensions).
pub type Count = AtLeast<1>;

impl<const MIN: usize> AtLeast<MIN> {
    /// The integer, if it is ≥ `MIN`.
    pub fn new(value: usize) -> Result<Self, String> {
        if value >= MIN { Ok(AtLeast(value)) } else { Err(format!("{value} is not an integer ≥ {MIN}")) }
    }
    /// The number.
    pub fn get(self) -> usize {
        self.0
    }
}

impl<'de, const MIN: usize> Deserialize<'de> for AtLeast<MIN> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        AtLeast::new(usize::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl<const MIN: usize> fmt::Display for AtLeast<MIN> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A vector of finite numbers (a point or a direction in parameter space).
pub type Vector = Vec<Finite>;

/// The plain numbers of a [`Vector`].
pub fn numbers(v: &[Finite]) -> Vec<f64> {
    v.iter().map(|x| x.get()).collect()
}

/// A column of a table, numbered from 1 as in spreadsheets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Column(usize);

impl Column {
    /// The 0-based index.
    pub fn index(self) -> usize {
        self.0 - 1
    }
    /// The number as written (from 1).
    pub fn number(self) -> usize {
        self.0
    }
}

impl<'de> Deserialize<'de> for Column {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let c = usize::deserialize(deserializer)?;
        if c >= 1 { Ok(Column(c)) } else { Err(serde::de::Error::custom("0 is not a column number (columns are numbered from 1)")) }
    }
}
