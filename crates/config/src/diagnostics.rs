//! What loading a configuration reports: errors that stop it, warnings that do not.

use std::fmt;
use std::path::PathBuf;

/// One problem, located by its key path (`bootstrap.dcs.ttl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl Issue {
    /// An issue at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("cannot parse {}{}: {reason}", path.display(), line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: Option<usize>,
        reason: String,
    },
    #[error("{} does not contain a YAML mapping", path.display())]
    NotMapping { path: PathBuf },
    #[error("{} contains no .yml or .yaml file", path.display())]
    EmptyDirectory { path: PathBuf },
    #[error("invalid configuration:\n{}", issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid { issues: Vec<Issue> },
}
