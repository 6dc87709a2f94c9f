//! How the agent reaches the other members' REST APIs, injected so the simulator can carry the
//! same calls between agents in one process (and lose or delay them). [`HttpPeers`] is the real
//! link: HTTPS as the configuration asks (Patroni's request settings).

use anyhow::{Context, Result};
use async_trait::async_trait;
use ferroni_config::Config;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A peer's answer to `POST /failsafe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// The calls the agent makes to other members.
#[async_trait]
pub trait PeerLink: Send + Sync {
    /// `GET url` (a member's `/patroni`) as JSON, whatever the status code (a 503 still
    /// describes the member); `Err` with the reason when there is no JSON answer in `timeout`.
    async fn status(&self, url: &str, timeout: Duration) -> Result<Value, String>;

    /// `POST url` with a JSON body (`/failsafe`), with the REST API's credentials if any.
    async fn post(&self, url: &str, body: &str, timeout: Duration) -> Result<Answer, String>;

    /// Whether `GET url` (a member's `/liveness`) answers 2xx within `timeout`.
    async fn alive(&self, url: &str, timeout: Duration) -> bool;

    /// The link a reloaded configuration describes.
    fn reconfigured(&self, config: &Config) -> Result<Arc<dyn PeerLink>>;
}

/// The real link: an HTTP client checking the members' certificates against `ctl.cacert` (else
/// `restapi.cafile`), with `ctl.certfile`/`keyfile` as the client certificate when set.
pub struct HttpPeers {
    client: reqwest::Client,
    auth: Option<(String, ferroni_config::Secret)>,
}

impl HttpPeers {
    /// The link the configuration describes.
    pub fn new(config: &Config) -> Result<HttpPeers> {
        let ctl = config.ctl.clone().unwrap_or_default();
        let files = ferroni_api::trust::ClientFiles {
            cacert: ctl.cacert.or_else(|| config.restapi.cafile.clone()),
            certfile: ctl.certfile,
            keyfile: ctl.keyfile,
            insecure: false,
        };
        let tls = ferroni_api::trust::client_config(&files).map_err(anyhow::Error::msg)?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .context("HTTP client")?;
        let auth = config
            .restapi
            .authentication
            .as_ref()
            .map(|a| (a.username.clone(), a.password.clone()));
        Ok(HttpPeers { client, auth })
    }
}

#[async_trait]
impl PeerLink for HttpPeers {
    async fn status(&self, url: &str, timeout: Duration) -> Result<Value, String> {
        let answer = self.client.get(url).timeout(timeout).send().await;
        let text = match answer {
            Ok(r) => r.text().await.map_err(|e| e.to_string())?,
            Err(e) => return Err(e.to_string()),
        };
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    async fn post(&self, url: &str, body: &str, timeout: Duration) -> Result<Answer, String> {
        let mut request = self
            .client
            .post(url)
            .timeout(timeout)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some((user, password)) = &self.auth {
            request = request.basic_auth(user, Some(password.expose()));
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok(Answer { status, body })
    }

    async fn alive(&self, url: &str, timeout: Duration) -> bool {
        self.client
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    fn reconfigured(&self, config: &Config) -> Result<Arc<dyn PeerLink>> {
        Ok(Arc::new(HttpPeers::new(config)?))
    }
}
