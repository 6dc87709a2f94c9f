//! The typed requests the REST API hands to the agent, which answers them from its loop: the API
//! parses and validates, the agent acts (it owns the DCS and PostgreSQL).

use ferroni_model::Failover;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// `POST /restart`'s conditions (all optional).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestartRequest {
    /// When (ISO 8601 with a zone); `None`: now.
    pub schedule: Option<String>,
    /// Only if this node has this role (`primary`, `standby_leader`, `replica`).
    pub role: Option<String>,
    /// Only if the running server is older than this version (`15.2`).
    pub postgres_version: Option<String>,
    /// Seconds a primary may take to start before it fails over.
    pub timeout: Option<u64>,
    /// Only if PostgreSQL needs a restart for a parameter change.
    pub restart_pending: bool,
}

/// A request for the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Check a switchover or failover against the cluster as the DCS holds it now (`action`:
    /// `switchover` or `failover`; scheduled requests are not checked) and write the `failover`
    /// key. The reply (200) carries the leader before the request: `{"leader": name|null}`.
    RequestFailover {
        failover: Failover,
        action: String,
    },
    /// Clear a scheduled switchover.
    CancelSwitchover,
    /// Read the leader and whether a request is pending, fresh from the DCS (JSON
    /// `{"leader": name|null, "failover": bool}`), while a switchover is awaited.
    ReadFailover,
    /// Merge `body` into the dynamic configuration (PATCH), or replace it (PUT).
    Config {
        body: Map<String, Value>,
        replace: bool,
    },
    /// Re-read the configuration file (as SIGHUP).
    Reload,
    /// Restart PostgreSQL now (conditions checked by the agent).
    Restart(RestartRequest),
    /// Keep a restart for `schedule`.
    ScheduleRestart(RestartRequest),
    CancelRestart,
    /// Clone this replica again (`force`: cancel a task in progress).
    Reinitialize {
        force: bool,
        from_leader: bool,
    },
}

/// The agent's answer: a status code and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub body: String,
    /// The body is JSON (else text).
    pub json: bool,
    /// `lsn: <position>` (the answer to a failsafe call).
    pub lsn: Option<u64>,
}

impl Reply {
    pub fn text(code: u16, body: impl Into<String>) -> Reply {
        Reply {
            code,
            body: body.into(),
            json: false,
            lsn: None,
        }
    }

    pub fn json(code: u16, body: String) -> Reply {
        Reply {
            code,
            body,
            json: true,
            lsn: None,
        }
    }
}

/// A command and where its reply goes.
pub type Envelope = (Command, oneshot::Sender<Reply>);

/// The agent's end of the channel.
pub type Commands = mpsc::Receiver<Envelope>;

/// The API's end: sends a command and waits for the reply.
#[derive(Clone)]
pub struct Control(mpsc::Sender<Envelope>);

impl Control {
    /// A channel between the API and the agent; a few requests may wait while the agent acts.
    pub fn channel() -> (Control, Commands) {
        let (tx, rx) = mpsc::channel(16);
        (Control(tx), rx)
    }

    /// Sends `command`; 503 when the agent does not take it.
    pub async fn ask(&self, command: Command) -> Reply {
        let (tx, rx) = oneshot::channel();
        if self.0.send((command, tx)).await.is_err() {
            return Reply::text(503, "the agent is shutting down");
        }
        rx.await
            .unwrap_or_else(|_| Reply::text(503, "the agent did not answer"))
    }
}

/// A primary's `POST /failsafe` (failsafe mode), recorded by the API at once — the agent's loop
/// may be blocked on the unreachable DCS — and read by the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct FailsafeCall {
    pub name: String,
    pub conn_url: String,
    pub api_url: String,
    pub at: Instant,
}

/// The last failsafe call, shared by the API and the agent.
#[derive(Debug, Clone, Default)]
pub struct FailsafeCalls(Arc<Mutex<Option<FailsafeCall>>>);

impl FailsafeCalls {
    pub fn record(&self, call: FailsafeCall) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(call);
        }
    }

    pub fn last(&self) -> Option<FailsafeCall> {
        self.0.lock().ok().and_then(|last| last.clone())
    }
}
