//! The `postgres` OS user: `initdb` and `postgres` refuse to run as root, so when the tests run as
//! root, PostgreSQL and the agents run as `postgres`, in directories it owns.

use anyhow::{Context, Result};
use nix::unistd::{Gid, Uid, User, chown};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Whom to run a process as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// The identity PostgreSQL runs under: `postgres` when we are root, ourselves otherwise.
pub fn postgres_user() -> Result<Option<RunAs>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let user = User::from_name("postgres")
        .context("cannot look up the postgres user")?
        .context("there is no postgres OS user: install postgresql-15 (scripts/setup)")?;
    Ok(Some(RunAs {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    }))
}

/// Creates `dir` (mode `mode`) owned by `owner` when given.
pub fn make_dir_for(dir: &Path, owner: Option<RunAs>, mode: u32) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", dir.display()))?;
    if let Some(o) = owner {
        chown(dir, Some(Uid::from_raw(o.uid)), Some(Gid::from_raw(o.gid)))
            .with_context(|| format!("cannot chown {}", dir.display()))?;
    }
    Ok(())
}
