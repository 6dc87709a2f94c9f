//! The captured Patroni 4.1.5 fixtures under `tests/fixtures/` (copies of `../shared/fixtures/`).

use std::path::{Path, PathBuf};

/// `tests/fixtures/<relative>` of the workspace.
pub fn path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(relative)
}

/// The keys of a captured DCS state directory (`patroni-4.1.5/dcs/etcd3/healthy`), as
/// `(/service/demo/<key>, value)` sorted by key; the capture's own notes (`_*`, `*.txt`) left out.
pub fn captured_dcs(state_dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![state_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if file.is_dir() {
                stack.push(file);
            } else if !name.starts_with('_') && !name.ends_with(".txt") {
                let (Ok(rel), Ok(value)) =
                    (file.strip_prefix(state_dir), std::fs::read_to_string(&file))
                else {
                    continue;
                };
                out.push((format!("/service/demo/{}", rel.display()), value));
            }
        }
    }
    out.sort();
    out
}
