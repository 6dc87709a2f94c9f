//! etcd v2 over HTTP, with Patroni's key semantics: leader and member keys are TTL keys rewritten
//! every cycle; the lock is taken with `prevExist=false`, renewed with `prevValue=<name>`, released
//! with `DELETE ?prevValue=<name>`; `config`, `failover` and `sync` are compare-and-set on
//! `prevIndex`. Replicas long-poll the leader key (`wait=true`) between cycles.

mod wire;

use crate::retry::retry;
use crate::{Dcs, DcsError, DcsSettings, EtcdOptions};
use async_trait::async_trait;
use ferroni_model::{Cluster, KeyLayout, Member, Version};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
pub use wire::parse_keys_response;

/// An etcd v2 backend for one agent.
pub struct Etcd2 {
    http: reqwest::Client,
    options: EtcdOptions,
    settings: DcsSettings,
    /// The endpoint that answered last; requests start there.
    current: AtomicUsize,
    /// `X-Etcd-Index` of the last cluster read: `watch` waits for anything after it.
    etcd_index: AtomicU64,
}

/// A v2 answer: status, `X-Etcd-Index`, body.
struct Answer {
    status: StatusCode,
    index: Option<u64>,
    body: String,
}

impl Answer {
    /// etcd's `errorCode` (100 key not found, 101 compare failed, 105 already exists, 401 index
    /// cleared).
    fn error_code(&self) -> Option<u64> {
        serde_json::from_str::<Value>(&self.body)
            .ok()?
            .get("errorCode")?
            .as_u64()
    }

    fn node_version(&self, key: &str) -> Result<Version, DcsError> {
        wire::modified_index(&self.body)
            .map(|i| Version(i as i64))
            .ok_or_else(|| DcsError::Malformed {
                key: key.to_string(),
                reason: "no modifiedIndex in etcd's answer".into(),
            })
    }
}

impl Etcd2 {
    /// A client for `options.endpoints`; no request is made until the first operation.
    pub fn new(options: EtcdOptions, settings: DcsSettings) -> Result<Etcd2, DcsError> {
        let mut builder = reqwest::Client::builder().connect_timeout(settings.request_timeout());
        let read = |path: &str| {
            std::fs::read(path).map_err(|e| DcsError::Refused(format!("cannot read {path}: {e}")))
        };
        if let Some(ca) = &options.cacert {
            let cert = reqwest::Certificate::from_pem(&read(ca)?)
                .map_err(|e| DcsError::Refused(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        if let (Some(cert), Some(key)) = (&options.cert, &options.key) {
            let mut pem = read(cert)?;
            pem.extend(read(key)?);
            let identity =
                reqwest::Identity::from_pem(&pem).map_err(|e| DcsError::Refused(e.to_string()))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| DcsError::Refused(e.to_string()))?;
        Ok(Etcd2 {
            http,
            options,
            settings,
            current: AtomicUsize::new(0),
            etcd_index: AtomicU64::new(0),
        })
    }

    /// One request, trying each endpoint from the current one until one answers.
    async fn request_once(
        &self,
        method: &Method,
        key: &str,
        query: &[(&str, String)],
        form: &[(&str, String)],
        timeout: Duration,
    ) -> Result<Answer, DcsError> {
        let endpoints = &self.options.endpoints;
        if endpoints.is_empty() {
            return Err(DcsError::Unreachable(
                "no etcd endpoint is configured".into(),
            ));
        }
        let start = self.current.load(Ordering::Relaxed);
        let mut last_error = DcsError::Unreachable("no endpoint tried".into());
        for i in 0..endpoints.len() {
            let index = (start + i) % endpoints.len();
            let url = format!("{}/v2/keys{key}", endpoints[index]);
            let mut request = self
                .http
                .request(method.clone(), &url)
                .query(query)
                .timeout(timeout);
            if !form.is_empty() {
                request = request.form(form);
            }
            if let (Some(user), Some(password)) = (&self.options.username, &self.options.password) {
                request = request.basic_auth(user, Some(password.expose()));
            }
            match request.send().await {
                Ok(response) => {
                    self.current.store(index, Ordering::Relaxed);
                    let status = response.status();
                    let index = response
                        .headers()
                        .get("x-etcd-index")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    let body = response
                        .text()
                        .await
                        .map_err(|e| DcsError::Unreachable(e.to_string()))?;
                    if status.is_server_error() {
                        last_error = DcsError::Unreachable(format!("{url}: {status}"));
                        continue;
                    }
                    return Ok(Answer {
                        status,
                        index,
                        body,
                    });
                }
                Err(e) if e.is_timeout() => last_error = DcsError::Timeout(timeout),
                Err(e) => last_error = DcsError::Unreachable(format!("{url}: {e}")),
            }
        }
        Err(last_error)
    }

    /// A request retried within `retry_timeout`.
    async fn request(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, String)],
        form: &[(&str, String)],
    ) -> Result<Answer, DcsError> {
        let per_request = self.settings.request_timeout();
        retry(self.settings.retry_timeout, |left| {
            let method = method.clone();
            async move {
                self.request_once(&method, key, query, form, per_request.min(left))
                    .await
            }
        })
        .await
    }

    fn ttl(&self) -> String {
        self.settings.ttl.as_secs().to_string()
    }

    /// A PUT whose precondition may fail: `Ok(None)` when it did (412 or 404).
    async fn conditional_put(
        &self,
        key: &str,
        value: &str,
        conditions: &[(&str, String)],
        ttl: bool,
    ) -> Result<Option<Answer>, DcsError> {
        let mut form = vec![("value", value.to_string())];
        if ttl {
            form.push(("ttl", self.ttl()));
        }
        form.extend(conditions.iter().cloned());
        let answer = self.request(Method::PUT, key, &[], &form).await?;
        match answer.status {
            s if s.is_success() => Ok(Some(answer)),
            StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND => Ok(None),
            s => Err(DcsError::Refused(format!(
                "PUT {key}: {s}: {}",
                answer.body
            ))),
        }
    }

    /// PUT compare-and-set on `prevIndex` (unconditional without a version).
    async fn compare_and_put(
        &self,
        key: &str,
        value: &str,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        let conditions: Vec<(&str, String)> = version
            .map(|Version(v)| vec![("prevIndex", v.to_string())])
            .unwrap_or_default();
        match self.conditional_put(key, value, &conditions, false).await? {
            Some(answer) => answer.node_version(key),
            None => Err(DcsError::Conflict(key.to_string())),
        }
    }

    /// DELETE with preconditions: `true` when deleted.
    async fn conditional_delete(
        &self,
        key: &str,
        query: &[(&str, String)],
    ) -> Result<bool, DcsError> {
        let answer = self.request(Method::DELETE, key, query, &[]).await?;
        match answer.status {
            s if s.is_success() => Ok(true),
            StatusCode::PRECONDITION_FAILED | StatusCode::NOT_FOUND => Ok(false),
            s => Err(DcsError::Refused(format!(
                "DELETE {key}: {s}: {}",
                answer.body
            ))),
        }
    }
}

#[async_trait]
impl Dcs for Etcd2 {
    fn layout(&self) -> &KeyLayout {
        &self.settings.layout
    }

    async fn write(
        &self,
        key: &str,
        value: &str,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        self.compare_and_put(key, value, version).await
    }

    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        let base = self.settings.layout.base().to_string();
        let answer = self
            .request(Method::GET, &base, &[("recursive", "true".into())], &[])
            .await?;
        if let Some(index) = answer.index {
            self.etcd_index.store(index, Ordering::Relaxed);
        }
        let kvs = match answer.status {
            StatusCode::NOT_FOUND => Vec::new(),
            s if s.is_success() => {
                parse_keys_response(&answer.body).map_err(|reason| DcsError::Malformed {
                    key: base.clone(),
                    reason,
                })?
            }
            s => {
                return Err(DcsError::Refused(format!(
                    "GET {base}: {s}: {}",
                    answer.body
                )));
            }
        };
        Ok(crate::decode_cluster(&self.settings.layout, kvs))
    }

    async fn attempt_to_acquire_leader(&self) -> Result<bool, DcsError> {
        let won = self
            .conditional_put(
                &self.settings.layout.leader(),
                &self.settings.name,
                &[("prevExist", "false".into())],
                true,
            )
            .await?
            .is_some();
        if !won {
            tracing::info!("Could not take out TTL lock");
        }
        Ok(won)
    }

    async fn update_leader(&self) -> Result<bool, DcsError> {
        let condition = [("prevValue", self.settings.name.clone())];
        let renewed = self
            .conditional_put(
                &self.settings.layout.leader(),
                &self.settings.name,
                &condition,
                true,
            )
            .await?;
        Ok(renewed.is_some())
    }

    async fn delete_leader(&self) -> Result<bool, DcsError> {
        self.conditional_delete(
            &self.settings.layout.leader(),
            &[("prevValue", self.settings.name.clone())],
        )
        .await
    }

    async fn touch_member(&self, member: &Member) -> Result<(), DcsError> {
        let key = self.settings.layout.member(&self.settings.name);
        self.conditional_put(&key, &member.encode(), &[], true)
            .await?;
        Ok(())
    }

    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        let condition = [("prevExist", (!create_new).to_string())];
        Ok(self
            .conditional_put(&self.settings.layout.initialize(), sysid, &condition, false)
            .await?
            .is_some())
    }

    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        self.conditional_delete(&self.settings.layout.initialize(), &[])
            .await
            .map(|_| ())
    }

    async fn delete_sync(&self, version: Option<Version>) -> Result<(), DcsError> {
        let key = self.settings.layout.sync();
        let query: Vec<(&str, String)> = version
            .map(|Version(v)| vec![("prevIndex", v.to_string())])
            .unwrap_or_default();
        if self.conditional_delete(&key, &query).await? || version.is_none() {
            Ok(())
        } else {
            Err(DcsError::Conflict(key))
        }
    }

    async fn delete_cluster(&self) -> Result<(), DcsError> {
        let query = [
            ("recursive", "true".to_string()),
            ("dir", "true".to_string()),
        ];
        self.conditional_delete(self.settings.layout.base(), &query)
            .await
            .map(|_| ())
    }

    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        let wait_index = self.etcd_index.load(Ordering::Relaxed) + 1;
        let query = [
            ("wait", "true".to_string()),
            ("waitIndex", wait_index.to_string()),
        ];
        // One long poll on the leader key, as Patroni's replicas do; a timeout is the quiet case.
        match self
            .request_once(
                &Method::GET,
                &self.settings.layout.leader(),
                &query,
                &[],
                timeout,
            )
            .await
        {
            Ok(answer) if answer.status.is_success() => {
                if let Some(index) = wire::modified_index(&answer.body) {
                    self.etcd_index.fetch_max(index, Ordering::Relaxed);
                }
                Ok(true)
            }
            // 401 "event index cleared": the index is too old; the next read refreshes it.
            Ok(answer) if answer.error_code() == Some(401) => Ok(true),
            Ok(answer) => Err(DcsError::Refused(format!(
                "watch: {}: {}",
                answer.status, answer.body
            ))),
            Err(DcsError::Timeout(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
