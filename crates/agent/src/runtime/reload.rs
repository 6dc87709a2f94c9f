//! What a reload (SIGHUP, `POST /reload`, `ferronictl reload`) applies from the configuration
//! file read again, as Patroni's `reload_config`: `log.level`; the REST API (`restapi`) and the
//! client the agent calls its peers with (`ctl`); and PostgreSQL's local settings —
//! `postgresql.parameters`, `pg_hba`, `pg_ident`, `authentication` — written to its files and
//! reloaded. A parameter that needs a restart is then reported by PostgreSQL as pending
//! (`pending_restart`, or the command line against `postmaster.opts`), and the member key shows
//! it as pending restart: nothing is applied silently. Tags are read from the new configuration
//! by the next cycle's member key.

use super::Runtime;
use ferroni_config::Loaded;
use std::collections::BTreeMap;

/// The parameters whose value changes between `before` and `after` (`None`: not set), by name.
fn changed_parameters<'a>(
    before: &'a BTreeMap<String, String>,
    after: &'a BTreeMap<String, String>,
) -> Vec<(&'a str, Option<&'a str>, Option<&'a str>)> {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (old, new) = (before.get(name), after.get(name));
            (old != new).then(|| {
                (
                    name.as_str(),
                    old.map(String::as_str),
                    new.map(String::as_str),
                )
            })
        })
        .collect()
}

impl Runtime {
    /// Applies a configuration file read again (its warnings already logged).
    pub(super) async fn apply_local(&mut self, loaded: Loaded) {
        let old = std::mem::replace(&mut self.loaded, loaded);
        let config = &self.loaded.config;
        self.callbacks.reconfigure(config);
        if old.config.log.level != config.log.level {
            match crate::logging::set_level(&config.log.level) {
                Ok(()) => tracing::info!("log.level is now {}", config.log.level),
                Err(e) => tracing::error!("{e:#}"),
            }
        }
        if let Some(server) = self.rest.as_mut() {
            server.reconfigure(&config.restapi).await;
        }
        match self.peer_link.reconfigured(config) {
            Ok(link) => self.peer_link = link,
            Err(e) => tracing::error!("the client for the other members was not changed: {e:#}"),
        }
        let dynamic = self.dynamic_parameters();
        let before = self.pg.parameters(&dynamic).conf;
        let settings = crate::settings::pg_settings(config, self.pg.settings().bin_dir.clone());
        // A new handle: its settings are the new ones, and its first session authenticates
        // with the (possibly new) superuser credentials.
        match self.pg.reconfigured(settings).await {
            Ok(pg) => self.pg = pg,
            Err(e) => tracing::error!("the PostgreSQL settings were not changed: {e}"),
        }
        let after = self.pg.parameters(&dynamic).conf;
        for (name, old, new) in changed_parameters(&before, &after) {
            tracing::info!(
                "Changed {name} from '{}' to '{}'",
                old.unwrap_or("None"),
                new.unwrap_or("None")
            );
        }
        tracing::info!("Reloading PostgreSQL configuration.");
        self.parameters_changed = !self.apply_parameters().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn changes_by_name() {
        let before = map(&[("work_mem", "4MB"), ("port", "5432"), ("a.b", "1")]);
        let after = map(&[("work_mem", "8MB"), ("port", "5432"), ("c.d", "x")]);
        assert_eq!(
            changed_parameters(&before, &after),
            vec![
                ("a.b", Some("1"), None),
                ("c.d", None, Some("x")),
                ("work_mem", Some("4MB"), Some("8MB")),
            ]
        );
        assert!(changed_parameters(&before, &before).is_empty());
    }
}
