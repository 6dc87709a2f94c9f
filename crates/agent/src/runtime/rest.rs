//! The REST API server this agent runs and the client it calls its peers with. On a reload the
//! access rules are replaced in place (connections kept alive see them at once); a change of
//! `listen`, TLS or the extra headers — or any reload while TLS is on, since the usual reason is
//! a renewed certificate — starts the server again on a fresh socket, as Patroni does.

use anyhow::{Context, Result};
use ferroni_api::{
    Access, Api, Control, FailsafeCalls, LivePositions, NodeState, Positions, PositionsFuture,
    SharedAccess,
};
use ferroni_config::schema::RestApi;
use ferroni_pg::server::Postgres;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a listener is made from: a change of any of it needs a new one.
#[derive(Debug, Clone, PartialEq)]
struct Endpoint {
    listen: String,
    certfile: Option<String>,
    keyfile: Option<String>,
    cafile: Option<String>,
    verify_client: Option<String>,
    headers: Vec<(String, String)>,
}

impl Endpoint {
    fn of(restapi: &RestApi) -> Endpoint {
        let mut headers: Vec<(String, String)> = restapi
            .http_extra_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if restapi.certfile.is_some() {
            headers.extend(
                restapi
                    .https_extra_headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        Endpoint {
            listen: restapi.listen.clone(),
            certfile: restapi.certfile.clone(),
            keyfile: restapi.keyfile.clone(),
            cafile: restapi.cafile.clone(),
            verify_client: restapi.verify_client.clone(),
            headers,
        }
    }

    /// The TLS acceptor, reading the certificate files now.
    fn tls(&self) -> Result<Option<ferroni_api::Tls>> {
        let Some(certfile) = &self.certfile else {
            return Ok(None);
        };
        let files = ferroni_api::tls::TlsFiles {
            certfile: certfile.clone(),
            keyfile: self.keyfile.clone(),
            cafile: self.cafile.clone(),
            verify_client: self.verify_client.clone(),
        };
        let (acceptor, verify) = ferroni_api::tls::acceptor(&files).map_err(anyhow::Error::msg)?;
        Ok(Some(ferroni_api::Tls { acceptor, verify }))
    }
}

/// The access rules of `restapi` (allowlist host names are resolved here, once).
fn access(restapi: &RestApi) -> Result<Access> {
    let credentials = restapi
        .authentication
        .as_ref()
        .map(|c| (c.username.as_str(), c.password.expose()));
    Access::new(
        credentials,
        &restapi.allowlist,
        restapi.allowlist_include_members,
    )
    .map_err(anyhow::Error::msg)
}

/// `/patroni`'s fresh WAL positions, asked on the agent's own session to the local PostgreSQL.
struct PgPositions(Arc<dyn Postgres>);

impl LivePositions for PgPositions {
    fn read(&self) -> PositionsFuture<'_> {
        Box::pin(async move {
            let p = self.0.wal_positions().await?;
            Some(Positions {
                in_recovery: p.in_recovery,
                timeline: p.timeline,
                location: p.wal_position,
                received: p.receive_lsn,
                replayed: p.replay_lsn,
            })
        })
    }
}

/// The live positions of `pg` for the REST API.
pub fn live_positions(pg: Arc<dyn Postgres>) -> Arc<dyn LivePositions> {
    Arc::new(PgPositions(pg))
}

/// What every listener of the API shares.
struct Shared {
    access: SharedAccess,
    state: watch::Receiver<Arc<NodeState>>,
    control: Control,
    failsafe: FailsafeCalls,
    live: Option<Arc<dyn LivePositions>>,
}

/// The agent's REST API server.
pub struct RestServer {
    shared: Shared,
    endpoint: Endpoint,
    task: JoinHandle<()>,
}

impl RestServer {
    /// Binds `restapi.listen` and serves the API there.
    pub async fn start(
        restapi: &RestApi,
        state: watch::Receiver<Arc<NodeState>>,
        control: Control,
        failsafe: FailsafeCalls,
        live: Option<Arc<dyn LivePositions>>,
    ) -> Result<RestServer> {
        let shared = Shared {
            access: access(restapi)?.into(),
            state,
            control,
            failsafe,
            live,
        };
        let endpoint = Endpoint::of(restapi);
        let task = shared.serve(&endpoint).await?;
        Ok(RestServer {
            shared,
            endpoint,
            task,
        })
    }
}

impl Shared {
    /// Binds the endpoint's address and serves the API there, in a task.
    async fn serve(&self, endpoint: &Endpoint) -> Result<JoinHandle<()>> {
        let headers = ferroni_api::extra_headers(endpoint.headers.iter().map(|(k, v)| (k, v)))
            .map_err(anyhow::Error::msg)?;
        let tls = endpoint.tls()?;
        let api = Api {
            state: self.state.clone(),
            control: self.control.clone(),
            access: self.access.clone(),
            headers,
            failsafe: self.failsafe.clone(),
            live: self.live.clone(),
        };
        let listen = &endpoint.listen;
        let listener = ferroni_api::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        Ok(tokio::spawn(async move {
            if let Err(e) = ferroni_api::serve(listener, api, tls).await {
                tracing::error!("the REST API stopped: {e}");
            }
        }))
    }
}

impl RestServer {
    /// Applies a reloaded `restapi`. On an error the server goes on with what it had.
    pub async fn reconfigure(&mut self, restapi: &RestApi) {
        match access(restapi) {
            Ok(access) => self.shared.access.replace(access),
            Err(e) => tracing::error!("restapi: the access rules were not changed: {e:#}"),
        }
        let endpoint = Endpoint::of(restapi);
        if endpoint == self.endpoint && endpoint.certfile.is_none() {
            return;
        }
        // Check what can be checked before the running server is stopped.
        if let Err(e) = endpoint.tls().and_then(|_| {
            ferroni_api::extra_headers(endpoint.headers.iter().map(|(k, v)| (k, v)))
                .map_err(anyhow::Error::msg)
        }) {
            tracing::error!("restapi: not restarting the REST API: {e:#}");
            return;
        }
        tracing::info!("restarting the REST API on {}", endpoint.listen);
        self.task.abort();
        // The old listener must be closed before the same address is bound again.
        let _ = (&mut self.task).await;
        match self.shared.serve(&endpoint).await {
            Ok(task) => {
                self.task = task;
                self.endpoint = endpoint;
            }
            Err(e) => {
                tracing::error!("restapi: {e:#}; serving on {} again", self.endpoint.listen);
                match self.shared.serve(&self.endpoint).await {
                    Ok(task) => self.task = task,
                    Err(e) => tracing::error!("the REST API is not served: {e:#}"),
                }
            }
        }
    }
}
