//! The files Ferroni manages in the data directory: `postgresql.conf`, the recovery settings, `pg_hba.conf`, `pgpass`, and the parameters they come from.

use super::*;

impl LocalPostgres {
    /// Computes the server parameters for `dynamic` (the cluster's `postgresql.parameters`).
    pub fn parameters(&self, dynamic: &Map<String, Value>) -> ServerParameters {
        let identity = Identity {
            scope: &self.settings.scope,
            listen: &self.settings.listen,
            major_version: self.major_version,
        };
        let params = server_parameters(
            dynamic,
            &self.settings.local_parameters,
            &identity,
            Some(&self.known),
        );
        let dir = params
            .conf
            .get("unix_socket_directories")
            .and_then(|v| first_socket_dir(v));
        if let Ok(mut known) = self.socket_dir.write() {
            *known = dir;
        }
        params
    }

    /// Where the agent's own sessions reach the server: the socket directory when
    /// `use_unix_socket` is set and one is configured, else TCP (as Patroni).
    pub fn local_endpoint(&self) -> Endpoint {
        let dir = self.socket_dir.read().ok().and_then(|d| d.clone());
        let (host, port) = self.local_address();
        match dir.filter(|_| self.settings.use_unix_socket) {
            Some(dir) => Endpoint { host: dir, port },
            None => Endpoint { host, port },
        }
    }

    /// The superuser's session to `endpoint`.
    pub(super) fn superuser_target<'a>(
        &'a self,
        endpoint: &'a Endpoint,
        app: &'a str,
    ) -> Target<'a> {
        Target {
            credentials: &self.settings.superuser,
            endpoint,
            dbname: "postgres",
            application_name: app,
        }
    }

    /// Writes the managed files: `postgresql.conf` (moving the original aside to
    /// `postgresql.base.conf` the first time), `pg_hba.conf`, `pg_ident.conf`, the recovery
    /// settings and `standby.signal` for a replica, and the pgpass file.
    pub fn configure(&self, params: &ServerParameters, role: Recovery<'_>) -> Result<(), PgError> {
        let upstream = match role {
            Recovery::Standby(u) => u,
            Recovery::Primary => None,
        };
        let data = self.data();
        let conf = data.join("postgresql.conf");
        let base = data.join("postgresql.base.conf");
        if !base.exists() && conf.exists() {
            std::fs::rename(&conf, &base)
                .map_err(io("cannot move postgresql.conf to postgresql.base.conf"))?;
        } else if !base.exists() {
            write_private(&base, "")?;
        }
        self.write_pgpass(upstream)?;
        let recovery = matches!(role, Recovery::Standby(_)).then(|| {
            let conninfo = upstream.map(|u| self.primary_conninfo(u));
            let slot =
                upstream.map(|_| crate::slots::slot_name_from_member_name(&self.settings.name));
            recovery_parameters(
                conninfo.as_deref(),
                slot.as_deref(),
                &self.settings.recovery_conf,
            )
        });
        let hba_file = data.join("pg_hba.conf").display().to_string();
        let ident_file = data.join("pg_ident.conf").display().to_string();
        let text = render_postgresql_conf(&ConfFile {
            include: "postgresql.base.conf",
            parameters: &params.conf,
            hba_file: &hba_file,
            ident_file: &ident_file,
            recovery: recovery.as_ref(),
        });
        write_private(&conf, &text)?;
        if let Some(lines) = &self.settings.pg_hba {
            write_private(&data.join("pg_hba.conf"), &render_lines(lines))?;
        }
        if let Some(lines) = &self.settings.pg_ident {
            write_private(&data.join("pg_ident.conf"), &render_lines(lines))?;
        }
        let signal = data.join("standby.signal");
        if recovery.is_some() {
            write_private(&signal, "")?;
        } else if signal.exists() {
            std::fs::remove_file(&signal).map_err(io("cannot remove standby.signal"))?;
        }
        Ok(())
    }

    /// `primary_conninfo` for streaming from `upstream`: the replication user's libpq keywords,
    /// with libpq's `prefer` defaults written out as Patroni writes them.
    pub(super) fn primary_conninfo(&self, upstream: &Upstream) -> String {
        let mut credentials = self.settings.replication.clone();
        let o = &mut credentials.libpq;
        for (field, default) in [
            (&mut o.sslmode, "prefer"),
            (&mut o.gssencmode, "prefer"),
            (&mut o.channel_binding, "prefer"),
        ] {
            field.get_or_insert_with(|| default.to_string());
        }
        Target {
            credentials: &credentials,
            endpoint: upstream,
            dbname: "postgres",
            application_name: &self.settings.name,
        }
        .dsn(Some(&self.settings.pgpass))
    }

    /// The pgpass file: the upstream (replication user) and the local server (superuser).
    pub(super) fn write_pgpass(&self, upstream: Option<&Upstream>) -> Result<(), PgError> {
        let mut lines = Vec::new();
        if let (Some(u), Some(password)) = (upstream, &self.settings.replication.password) {
            lines.push(pgpass::line(
                &u.host,
                u.port,
                &self.settings.replication.username,
                password.expose(),
            ));
        }
        if let Some(password) = &self.settings.superuser.password {
            let local = self.local_endpoint();
            // libpq matches a socket connection against a pgpass host of `localhost`.
            let (host, port) = if local.is_socket() {
                ("localhost".to_string(), local.port)
            } else {
                (local.host, local.port)
            };
            lines.push(pgpass::line(
                &host,
                port,
                &self.settings.superuser.username,
                password.expose(),
            ));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        write_private(&self.settings.pgpass, &text)
    }

    /// Host and port to reach the local server over TCP.
    pub fn local_address(&self) -> (String, u16) {
        let (hosts, port) = self
            .settings
            .listen
            .rsplit_once(':')
            .unwrap_or((&self.settings.listen, "5432"));
        let host = hosts.split(',').next().unwrap_or("").trim();
        let host = match host {
            "" | "*" | "0.0.0.0" => "127.0.0.1",
            "::" => "::1",
            other => other,
        };
        (host.to_string(), port.trim().parse().unwrap_or(5432))
    }

    /// The protected parameters (given on the command line) whose wanted value differs from the
    /// one the running postmaster was started with (`postmaster.opts`), as
    /// `{name: {old_value, new_value}}`: PostgreSQL cannot report these itself.
    pub fn cmdline_changes(
        &self,
        params: &ServerParameters,
    ) -> serde_json::Map<String, serde_json::Value> {
        let Ok(opts) = std::fs::read_to_string(self.data().join("postmaster.opts")) else {
            return serde_json::Map::new();
        };
        let started: BTreeMap<&str, &str> = opts
            .split('"')
            .filter_map(|arg| arg.strip_prefix("--")?.split_once('='))
            .collect();
        params
            .cmdline
            .iter()
            .filter_map(|arg| arg.strip_prefix("--")?.split_once('='))
            .filter_map(|(name, wanted)| {
                let old = started.get(name)?;
                (*old != wanted).then(|| {
                    (
                        name.to_string(),
                        serde_json::json!({"old_value": old, "new_value": wanted}),
                    )
                })
            })
            .collect()
    }
}
