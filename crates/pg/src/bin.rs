//! Locating the PostgreSQL programs: `bin_dir` when configured, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout), else the `PATH`.

use std::path::{Path, PathBuf};

/// The directory holding `postgres`, `initdb`, `pg_ctl`, …
pub fn find_bin_dir(bin_dir: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = bin_dir.filter(|d| !d.as_os_str().is_empty()) {
        if dir.join("postgres").is_file() {
            return Ok(dir.to_path_buf());
        }
        return Err(format!("{} does not contain postgres", dir.display()));
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(|e| {
                    let e = e.ok()?;
                    let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("postgres").is_file().then_some((version, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|d| d.join("postgres").is_file()))
        .ok_or_else(|| {
            "no PostgreSQL binaries: set postgresql.bin_dir, or install postgresql-15".to_string()
        })
}
