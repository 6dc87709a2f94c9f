//! One test's work directory: where its processes write data and logs. Dropped during a panic, it
//! prints every log so the failure explains itself.

use crate::user::{RunAs, make_dir_for, postgres_user};
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Lines of each log printed when a test fails.
const TAIL_LINES: usize = 200;

/// A test's work directory, removed when dropped.
#[derive(Debug)]
pub struct Kit {
    dir: tempfile::TempDir,
    postgres: Option<RunAs>,
}

impl Kit {
    /// A fresh work directory under the system temp dir, traversable by the `postgres` user.
    pub fn new(test: &str) -> Result<Kit> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("ferroni-{test}-"))
            .tempdir()
            .context("cannot create a work directory")?;
        make_dir_for(dir.path(), None, 0o755)?;
        make_dir_for(&dir.path().join("logs"), None, 0o777)?;
        Ok(Kit {
            dir,
            postgres: postgres_user()?,
        })
    }

    /// The work directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The user PostgreSQL and agents run as (`None`: this user).
    pub fn postgres_user(&self) -> Option<RunAs> {
        self.postgres
    }

    /// The log file for a process named `name`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{name}.log"))
    }

    /// A directory under the work dir, owned by the PostgreSQL user, mode 0700.
    pub fn postgres_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir.path().join(name);
        make_dir_for(&dir, self.postgres, 0o700)?;
        Ok(dir)
    }

    /// Prints the last lines of every log, for a failing test.
    pub fn print_logs(&self) {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("logs")) else {
            return;
        };
        let mut logs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        logs.sort();
        for log in logs {
            let Ok(file) = std::fs::File::open(&log) else {
                continue;
            };
            let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
            let start = lines.len().saturating_sub(TAIL_LINES);
            eprintln!(
                "----- {} (last {} lines) -----",
                log.display(),
                lines.len() - start
            );
            for line in &lines[start..] {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for Kit {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
    }
}
