//! What can go wrong talking to the DCS, shaped for the callers' branches: failsafe mode treats an
//! unreachable DCS differently from a lost compare-and-set.

use std::time::Duration;

/// A DCS operation's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DcsError {
    /// No endpoint answered (connection refused, reset, DNS…).
    #[error("DCS is unreachable: {0}")]
    Unreachable(String),
    /// An endpoint was reached but did not answer in time.
    #[error("DCS did not answer within {0:?}")]
    Timeout(Duration),
    /// A compare-and-set lost: the key changed since it was read.
    #[error("compare-and-set conflict on {0}")]
    Conflict(String),
    /// The key does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// A value or a response could not be decoded.
    #[error("malformed value of {key}: {reason}")]
    Malformed { key: String, reason: String },
    /// The DCS refused the request (authentication, permissions, bad request).
    #[error("DCS refused the request: {0}")]
    Refused(String),
}

impl DcsError {
    /// Whether retrying the same request may succeed (the DCS was not reached or was slow).
    pub fn is_retriable(&self) -> bool {
        matches!(self, DcsError::Unreachable(_) | DcsError::Timeout(_))
    }
}
