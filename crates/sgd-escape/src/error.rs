//! The library's error type. Invalid input always names the offending key (or file, row and
//! column) and the value, so the CLI can print it verbatim and exit with status 2.

use std::path::PathBuf;

/// Errors returned by the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration key has an invalid value.
    #[error("invalid value for `{key}`: {value} ({reason})")]
    InvalidValue {
        /// Dotted key, e.g. `dynamics.lr`.
        key: String,
        /// The offending value as written.
        value: String,
        /// What is required instead.
        reason: String,
    },
    /// The configuration file could not be parsed (syntax, unknown key or wrong type).
    #[error("invalid configuration {path}: {message}")]
    ConfigSyntax {
        /// The configuration file.
        path: PathBuf,
        /// Parser message; it quotes the key and the line.
        message: String,
    },
    /// A configuration key is unknown, missing, of the wrong type or out of range.
    #[error("invalid configuration {path}: `{key}`: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// The full dotted key, e.g. `dynamics.noise.lr`.
        key: String,
        /// What is wrong, with the value.
        message: String,
    },
    /// A data file is malformed.
    #[error("invalid data file {path}: {message}")]
    Data {
        /// The data file.
        path: PathBuf,
        /// What is wrong, naming the row and column where there is one.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot write").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A numerical procedure failed (e.g. minimisation did not converge).
    #[error("{0}")]
    Numerical(String),
    /// The computation was stopped by [`crate::cancel::request`] (e.g. Ctrl-C in Python).
    #[error("cancelled")]
    Cancelled,
    /// Points of a sweep failed or are missing; the message lists them.
    #[error("{0}")]
    Sweep(String),
}

impl Error {
    /// Builds an [`Error::InvalidValue`].
    pub fn invalid(key: impl Into<String>, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::InvalidValue { key: key.into(), value: value.to_string(), reason: reason.into() }
    }

    /// Whether the error is caused by the user's input (the CLI exits with status 2 for these).
    pub fn is_invalid_input(&self) -> bool {
        !matches!(self, Error::Numerical(_) | Error::Sweep(_) | Error::Cancelled)
    }
}

/// Library result type.
pub type Result<T> = std::result::Result<T, Error>;
