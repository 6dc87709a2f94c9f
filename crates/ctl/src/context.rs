//! What every command needs: the configuration (`-c`, `PATRONICTL_CONFIG_FILE`, the default
//! `~/.config/patroni/patronictl.yaml`, `--dcs-url`, the `PATRONI_*` overlay), the cluster read
//! from the DCS, and an HTTP client for the members' REST API.

use anyhow::{Context as _, Result, bail};
use ferroni_config::Config;
use ferroni_dcs::Dcs;
use ferroni_model::{Cluster, MemberKey};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A failure patronictl reports as `Error: <message>` with exit code 1.
#[derive(Debug)]
pub struct CtlError(pub String);

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CtlError {}

/// Fails the command with patronictl's `Error: …` line.
pub fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(CtlError(message.into()).into())
}

/// The configuration and the clients built from it.
pub struct Ctx {
    pub config: Config,
    pub insecure: bool,
    /// How long a DCS request may take before the command gives up: a little less than
    /// `retry_timeout` (from the configuration's `bootstrap.dcs`, else 10 s), so an unreachable
    /// DCS is reported within it.
    dcs_budget: Duration,
}

/// `~/.config/patroni/patronictl.yaml`.
fn default_config_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(Path::new(&home).join(".config/patroni/patronictl.yaml"))
}

/// Applies `--dcs-url` (`etcd3://host:port/namespace`, `etcd://…`; no scheme: etcd3).
fn apply_dcs_url(config: &mut Config, url: &str) -> Result<()> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("etcd3", url));
    let (hosts, namespace) = match rest.split_once('/') {
        Some((h, ns)) => (h, Some(ns)),
        None => (rest, None),
    };
    let section = ferroni_config::dcs_sections::Etcd {
        hosts: Some(ferroni_config::flex::HostList(
            hosts.split(',').map(str::to_string).collect(),
        )),
        ..Default::default()
    };
    match scheme {
        "etcd3" => {
            config.etcd3 = Some(section);
            config.etcd = None;
        }
        "etcd" => {
            config.etcd = Some(section);
            config.etcd3 = None;
        }
        "consul" | "zookeeper" | "exhibitor" | "raft" | "kubernetes" => {
            return fail(format!("the {scheme} DCS is not supported yet"));
        }
        other => return fail(format!("Unknown dcs scheme: {other}")),
    }
    if let Some(ns) = namespace.filter(|ns| !ns.is_empty()) {
        config.namespace = format!("/{}", ns.trim_matches('/'));
    }
    Ok(())
}

impl Ctx {
    /// Loads the configuration as patronictl does.
    pub fn load(file: Option<&Path>, dcs_url: Option<&str>, insecure: bool) -> Result<Ctx> {
        let path = match file {
            Some(f) if !f.exists() => {
                return fail(format!(
                    "Provided config file {} not existing or no read rights. Check the -c/--config-file parameter",
                    f.display()
                ));
            }
            Some(f) => Some(f.to_path_buf()),
            None => default_config_file().filter(|p| p.exists()),
        };
        let mut config = ferroni_config::load_for_client(path.as_deref(), std::env::vars())
            .map_err(|e| CtlError(e.to_string()))?;
        if let Some(url) = dcs_url {
            apply_dcs_url(&mut config, url)?;
        }
        let retry_timeout =
            ferroni_config::DynamicConfig::from_map(&config.bootstrap.dcs, "bootstrap.dcs")
                .map(|(d, _)| d.retry_timeout)
                .unwrap_or(10);
        let dcs_budget = Duration::from_secs(retry_timeout.into())
            .saturating_sub(Duration::from_millis(300))
            .max(Duration::from_secs(1));
        Ok(Ctx {
            config,
            insecure,
            dcs_budget,
        })
    }

    /// The cluster name: the argument, else `scope`.
    pub fn cluster_name(&self, given: Option<&str>) -> Result<String> {
        match given
            .map(str::to_string)
            .or_else(|| (!self.config.scope.is_empty()).then(|| self.config.scope.clone()))
        {
            Some(name) => Ok(name),
            None => fail("Cluster name is required: give it as an argument or set scope"),
        }
    }

    /// A DCS client for cluster `name`.
    pub async fn dcs(&self, name: &str) -> Result<Box<dyn Dcs>> {
        let mut config = self.config.clone();
        config.scope = name.to_string();
        if config.name.is_empty() {
            config.name = "ferronictl".into();
        }
        // `retry_timeout` (and `ttl`) from the configuration's `bootstrap.dcs` when given: how
        // long to wait for an unreachable DCS before giving up.
        let dynamic =
            ferroni_config::DynamicConfig::from_map(&config.bootstrap.dcs, "bootstrap.dcs")
                .map(|(d, _)| d)
                .unwrap_or_default();
        match tokio::time::timeout(self.dcs_budget, ferroni_dcs::connect(&config, &dynamic)).await {
            Ok(Ok(dcs)) => Ok(dcs),
            Ok(Err(e)) => fail(format!("cannot reach the DCS: {e}")),
            Err(_) => fail(format!(
                "cannot reach the DCS: no answer within {:.1} s",
                self.dcs_budget.as_secs_f64()
            )),
        }
    }

    /// The cluster `name` as the DCS holds it now.
    pub async fn cluster(&self, dcs: &dyn Dcs) -> Result<Cluster> {
        match tokio::time::timeout(self.dcs_budget, dcs.get_cluster()).await {
            Ok(Ok(cluster)) => Ok(cluster),
            Ok(Err(e)) => fail(format!("cannot read the cluster from the DCS: {e}")),
            Err(_) => fail(format!(
                "cannot read the cluster from the DCS: no answer within {:.1} s",
                self.dcs_budget.as_secs_f64()
            )),
        }
    }

    /// The HTTP client for the members' REST API: `ctl` credentials and certificates, else
    /// `restapi`'s.
    pub fn http(&self) -> Result<reqwest::Client> {
        let ctl = self.config.ctl.clone().unwrap_or_default();
        let files = ferroni_api::trust::ClientFiles {
            cacert: ctl.cacert.or_else(|| self.config.restapi.cafile.clone()),
            certfile: ctl.certfile,
            keyfile: ctl.keyfile,
            insecure: self.insecure || ctl.insecure,
        };
        let tls = ferroni_api::trust::client_config(&files).map_err(anyhow::Error::msg)?;
        Ok(reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .use_preconfigured_tls(tls)
            .build()?)
    }

    /// Sends `method` `endpoint` to `member`'s REST API; the status and body.
    pub async fn request(
        &self,
        client: &reqwest::Client,
        member: &MemberKey,
        method: &str,
        endpoint: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<(u16, String)> {
        let base = member
            .data
            .api_url
            .trim_end_matches("/patroni")
            .trim_end_matches('/');
        if base.is_empty() {
            bail!("member {} has no api_url", member.name);
        }
        let url = format!("{base}/{endpoint}");
        let mut request = client.request(method.parse()?, &url).timeout(timeout);
        let auth = self
            .config
            .ctl
            .as_ref()
            .and_then(|c| c.authentication.as_ref())
            .or(self.config.restapi.authentication.as_ref());
        if let Some(a) = auth {
            request = request.basic_auth(&a.username, Some(a.password.expose()));
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        Ok((status, response.text().await.unwrap_or_default()))
    }
}
