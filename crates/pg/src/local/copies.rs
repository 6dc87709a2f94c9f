//! Making a data directory: initdb and the post-bootstrap script, a base backup, pg_rewind, emptying it.

use super::*;

impl LocalPostgres {
    /// Runs initdb with the superuser's name and password and the `bootstrap.initdb` options.
    pub async fn initdb(&self) -> Result<(), PgError> {
        std::fs::create_dir_all(self.data())
            .map_err(io(format!("cannot create {}", self.data().display())))?;
        std::fs::set_permissions(self.data(), std::fs::Permissions::from_mode(0o700))
            .map_err(io("cannot chmod the data directory"))?;
        let mut cmd = Command::new(self.settings.bin_dir.join("initdb"));
        cmd.arg("-D")
            .arg(self.data())
            .args(&self.settings.initdb_options);
        cmd.arg(format!("--username={}", self.settings.superuser.username));
        let pwfile = self.data().with_extension("pwfile");
        if let Some(password) = &self.settings.superuser.password {
            write_private(&pwfile, password.expose())?;
            cmd.arg(format!("--pwfile={}", pwfile.display()));
        }
        let result = run_inherit(&mut cmd, "initdb").await;
        let _ = std::fs::remove_file(&pwfile);
        result?;
        // The legacy `bootstrap.pg_hba` lines go after initdb's own, when no whole file is set.
        if self.settings.pg_hba.is_none() && !self.settings.bootstrap_pg_hba.is_empty() {
            let hba = self.data().join("pg_hba.conf");
            let mut text = std::fs::read_to_string(&hba).map_err(io("cannot read pg_hba.conf"))?;
            for line in &self.settings.bootstrap_pg_hba {
                text.push_str(line);
                text.push('\n');
            }
            std::fs::write(&hba, text).map_err(io("cannot write pg_hba.conf"))?;
        }
        Ok(())
    }

    /// After initdb: the superuser's password, the replication and rewind roles, then the
    /// `post_bootstrap` script.
    pub async fn post_bootstrap(&self) -> Result<(), PgError> {
        let client = self.connect().await?;
        for statement in sql::QUIET {
            client
                .batch_execute(statement)
                .await
                .map_err(|e| PgError::Sql(e.to_string()))?;
        }
        let role = |c: &Credentials, options: &str| {
            let mut opts = format!("{options} LOGIN");
            if let Some(p) = &c.password {
                opts.push_str(&format!(" PASSWORD {}", sql::quote_literal(p.expose())));
            }
            sql::create_or_update_role(
                &sql::quote_literal(&c.username),
                &sql::quote_ident(&c.username),
                &opts,
            )
        };
        let su = &self.settings.superuser;
        let mut statements = vec![role(su, "SUPERUSER")];
        statements.push(role(&self.settings.replication, "REPLICATION"));
        if let Some(rewind) = self
            .settings
            .rewind
            .as_ref()
            .filter(|r| r.username != su.username)
        {
            statements.push(role(rewind, ""));
            for f in sql::REWIND_FUNCTIONS {
                statements.push(format!(
                    "GRANT EXECUTE ON function pg_catalog.{f} TO {}",
                    sql::quote_ident(&rewind.username)
                ));
            }
        }
        for statement in statements {
            // The error text of a role statement could quote its password: keep only the code.
            client.batch_execute(&statement).await.map_err(|e| {
                PgError::Sql(format!(
                    "role setup failed ({})",
                    e.code().map_or("unknown", |c| c.code())
                ))
            })?;
        }
        if let Some(script) = &self.settings.post_bootstrap {
            let local = self.local_endpoint();
            let service = self.data().with_extension("post-bootstrap-service");
            let (url, secret) = self.superuser_target(&local, "").program_dsn(&service)?;
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(format!("{script} \"$1\""))
                .arg("post_bootstrap")
                .arg(url);
            cmd.env("PGPASSFILE", &self.settings.pgpass);
            if secret {
                cmd.env("PGSERVICEFILE", &service);
            }
            let result = run_inherit(&mut cmd, "post_bootstrap").await;
            let _ = std::fs::remove_file(&service);
            result?;
        }
        Ok(())
    }

    /// Creates this replica's data directory with pg_basebackup from `from`.
    pub async fn basebackup(&self, from: &Upstream) -> Result<(), PgError> {
        self.write_pgpass(Some(from))?;
        std::fs::create_dir_all(self.data()).map_err(io("cannot create the data directory"))?;
        std::fs::set_permissions(self.data(), std::fs::Permissions::from_mode(0o700))
            .map_err(io("cannot chmod the data directory"))?;
        let service = self.data().with_extension("basebackup-service");
        let (dsn, secret) = Target {
            credentials: &self.settings.replication,
            endpoint: from,
            dbname: "postgres",
            application_name: &self.settings.name,
        }
        .program_dsn(&service)?;
        let mut cmd = Command::new(self.settings.bin_dir.join("pg_basebackup"));
        cmd.arg("--pgdata")
            .arg(self.data())
            .args(["-X", "stream"])
            .arg(format!("--dbname={dsn}"))
            .args(&self.settings.basebackup_options)
            .env("PGPASSFILE", &self.settings.pgpass);
        if secret {
            cmd.env("PGSERVICEFILE", &service);
        }
        let result = run_inherit(&mut cmd, "pg_basebackup").await;
        let _ = std::fs::remove_file(&service);
        if result.is_err() {
            // A half-copied directory must not be mistaken for a replica next cycle.
            clear_dir(self.data());
        }
        result
    }

    /// Rewinds this former primary onto `source`'s timeline with pg_rewind (a no-op when the
    /// timelines did not diverge), as the rewind user, else the superuser.
    pub async fn rewind(&self, source: &Upstream) -> Result<(), PgError> {
        self.ensure_clean_shutdown().await?;
        let user = self
            .settings
            .rewind
            .clone()
            .unwrap_or_else(|| self.settings.superuser.clone());
        let mut lines = Vec::new();
        if let Some(password) = &user.password {
            lines.push(pgpass::line(
                &source.host,
                source.port,
                &user.username,
                password.expose(),
            ));
        }
        let pgpass = self.data().with_extension("rewind-pgpass");
        write_private(&pgpass, &(lines.join("\n") + "\n"))?;
        let service = self.data().with_extension("rewind-service");
        let (dsn, secret) = Target {
            credentials: &user,
            endpoint: source,
            dbname: "postgres",
            application_name: "",
        }
        .program_dsn(&service)?;
        let mut cmd = Command::new(self.settings.bin_dir.join("pg_rewind"));
        cmd.arg(format!("--target-pgdata={}", self.data().display()))
            .arg(format!("--source-server={dsn}"))
            .env("PGPASSFILE", &pgpass);
        if secret {
            cmd.env("PGSERVICEFILE", &service);
        }
        let result = run_inherit(&mut cmd, "pg_rewind").await;
        let _ = std::fs::remove_file(&pgpass);
        let _ = std::fs::remove_file(&service);
        result
    }

    /// Empties the data directory (after a failed bootstrap).
    pub fn remove_data(&self) {
        clear_dir(self.data());
    }
}

pub(super) fn clear_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}
