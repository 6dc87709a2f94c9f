//! etcd v3 over gRPC, with Patroni's key semantics: one lease per agent (TTL = `ttl`) carrying the
//! leader and member keys; the leader lock taken by a create-if-absent txn; compare-and-set by
//! `mod_revision`. Reads come from a cache fed by one watch over the cluster prefix, so an idle
//! agent costs etcd one lease keep-alive per cycle and nothing else.

mod cache;

use crate::retry::retry;
use crate::{Dcs, DcsError, DcsSettings, EtcdOptions};
use async_trait::async_trait;
use cache::Cache;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, LeaseKeepAliveStream,
    LeaseKeeper, PutOptions, Txn, TxnOp,
};
use ferroni_model::{Cluster, KeyLayout, Member, RawKv, Status, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Maps etcd-client's errors onto the branches callers take.
pub(crate) fn map_err(e: etcd_client::Error) -> DcsError {
    use etcd_client::Error as E;
    use tonic::Code;
    match e {
        E::TransportError(t) => DcsError::Unreachable(t.to_string()),
        E::IoError(io) => DcsError::Unreachable(io.to_string()),
        E::GRpcStatus(s) => match s.code() {
            Code::Unavailable
            | Code::Cancelled
            | Code::Unknown
            | Code::Aborted
            | Code::Internal => DcsError::Unreachable(s.message().to_string()),
            Code::DeadlineExceeded => DcsError::Timeout(Duration::ZERO),
            Code::NotFound => DcsError::NotFound(s.message().to_string()),
            _ => DcsError::Refused(s.message().to_string()),
        },
        E::LeaseKeepAliveError(m) if m.contains("not found") => {
            DcsError::NotFound(format!("lease: {m}"))
        }
        other => DcsError::Unreachable(other.to_string()),
    }
}

/// This agent's lease and its keep-alive stream.
#[derive(Default)]
struct Lease {
    id: Option<i64>,
    keeper: Option<(LeaseKeeper, LeaseKeepAliveStream)>,
    last_renewed: Option<Instant>,
}

/// An etcd v3 backend for one agent.
pub struct Etcd3 {
    client: Client,
    settings: DcsSettings,
    lease: Mutex<Lease>,
    cache: Arc<Cache>,
    watcher: JoinHandle<()>,
    changes: Mutex<watch::Receiver<u64>>,
    /// The member value and lease last written, so an unchanged member key is not rewritten.
    last_member: Mutex<Option<(String, i64)>>,
}

impl Drop for Etcd3 {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl Etcd3 {
    /// Connects to etcd and starts the watch that keeps the cluster cache current.
    pub async fn connect(options: &EtcdOptions, settings: DcsSettings) -> Result<Etcd3, DcsError> {
        let mut connect = ConnectOptions::new()
            .with_connect_timeout(settings.request_timeout())
            .with_timeout(settings.request_timeout())
            // HTTP/2 pings notice a dead or frozen endpoint even while the watch stream is idle.
            // etcd closes connections that ping more often than every 5 s (its
            // --grpc-keepalive-min-time), which would break the watch over and over.
            .with_keep_alive(Duration::from_secs(10), settings.request_timeout())
            .with_keep_alive_while_idle(true);
        if let (Some(user), Some(password)) = (&options.username, &options.password) {
            connect = connect.with_user(user.clone(), password.expose());
        }
        if options.cacert.is_some() || options.cert.is_some() {
            connect = connect.with_tls(tls_options(options)?);
        }
        let endpoints = options.endpoints.clone();
        let client = retry(settings.retry_timeout, |_| {
            let (endpoints, connect) = (endpoints.clone(), connect.clone());
            async move {
                Client::connect(endpoints, Some(connect))
                    .await
                    .map_err(map_err)
            }
        })
        .await?;
        let (cache, changes) = Cache::new();
        let watcher = tokio::spawn(cache::run(
            cache.clone(),
            client.clone(),
            settings.layout.clone(),
        ));
        Ok(Etcd3 {
            client,
            settings,
            lease: Mutex::new(Lease::default()),
            cache,
            watcher,
            changes: Mutex::new(changes),
            last_member: Mutex::new(None),
        })
    }

    /// The lease ID, granting one when there is none.
    async fn lease_id(&self, lease: &mut Lease) -> Result<i64, DcsError> {
        if let Some(id) = lease.id {
            return Ok(id);
        }
        let ttl = i64::try_from(self.settings.ttl.as_secs()).unwrap_or(30);
        let client = self.client.clone();
        let granted = retry(self.settings.retry_timeout, |_| {
            let mut client = client.clone();
            async move { client.lease_grant(ttl, None).await.map_err(map_err) }
        })
        .await?;
        lease.id = Some(granted.id());
        lease.keeper = None;
        lease.last_renewed = Some(Instant::now());
        Ok(granted.id())
    }

    /// One keep-alive of the lease; a lease etcd no longer knows is replaced by a new one.
    async fn keep_alive(&self, lease: &mut Lease) -> Result<i64, DcsError> {
        let id = self.lease_id(lease).await?;
        let timeout = self.settings.request_timeout();
        let alive = match lease.keeper.as_mut() {
            Some((keeper, stream)) => {
                let exchange = async {
                    keeper.keep_alive().await.map_err(map_err)?;
                    stream.message().await.map_err(map_err)
                };
                match tokio::time::timeout(timeout, exchange).await {
                    Ok(Ok(Some(response))) => Ok(response.ttl() > 0),
                    Ok(Ok(None)) => {
                        Err(DcsError::Unreachable("the keep-alive stream closed".into()))
                    }
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(DcsError::Timeout(timeout)),
                }
            }
            None => {
                let mut client = self.client.lease_client();
                match tokio::time::timeout(timeout, client.keep_alive(id)).await {
                    Ok(Ok(keeper)) => {
                        lease.keeper = Some(keeper);
                        Ok(true)
                    }
                    Ok(Err(e)) => match map_err(e) {
                        DcsError::NotFound(_) => Ok(false),
                        other => Err(other),
                    },
                    Err(_) => Err(DcsError::Timeout(timeout)),
                }
            }
        };
        match alive {
            Ok(true) => {
                lease.last_renewed = Some(Instant::now());
                Ok(id)
            }
            Ok(false) => {
                tracing::warn!("etcd lease {id:x} has expired; granting a new one");
                *lease = Lease::default();
                self.lease_id(lease).await
            }
            Err(e) => {
                // A broken stream is rebuilt on the next attempt.
                lease.keeper = None;
                Err(e)
            }
        }
    }

    /// Keeps the lease alive, retrying within `retry_timeout`, unless it was renewed less than
    /// `max_age` ago.
    async fn refresh_lease(&self, max_age: Duration) -> Result<i64, DcsError> {
        let mut lease = self.lease.lock().await;
        if let (Some(id), Some(at)) = (lease.id, lease.last_renewed)
            && at.elapsed() < max_age
        {
            return Ok(id);
        }
        let deadline = Instant::now() + self.settings.retry_timeout;
        let mut delay = Duration::from_millis(50);
        loop {
            match self.keep_alive(&mut lease).await {
                Err(e) if e.is_retriable() && Instant::now() + delay < deadline => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                other => return other,
            }
        }
    }

    async fn txn(&self, txn: Txn) -> Result<etcd_client::TxnResponse, DcsError> {
        let client = self.client.clone();
        retry(self.settings.retry_timeout, |_| {
            let (mut client, txn) = (client.clone(), txn.clone());
            async move { client.txn(txn).await.map_err(map_err) }
        })
        .await
    }

    async fn put(&self, key: &str, value: &str, lease: Option<i64>) -> Result<Version, DcsError> {
        let client = self.client.clone();
        let options = lease.map(|id| PutOptions::new().with_lease(id));
        let response = retry(self.settings.retry_timeout, |_| {
            let (mut client, options) = (client.clone(), options.clone());
            async move { client.put(key, value, options).await.map_err(map_err) }
        })
        .await?;
        Ok(Version(response.header().map_or(0, |h| h.revision())))
    }

    /// Put only if the key's `mod_revision` is `version`; the new revision, or a conflict.
    async fn compare_and_put(
        &self,
        key: &str,
        value: &str,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        let Some(Version(v)) = version else {
            return self.put(key, value, None).await;
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, v)])
            .and_then([TxnOp::put(key, value, None)]);
        let response = self.txn(txn).await?;
        if !response.succeeded() {
            return Err(DcsError::Conflict(key.to_string()));
        }
        Ok(Version(response.header().map_or(0, |h| h.revision())))
    }

    /// Reads the whole cluster from etcd, bypassing the cache.
    async fn read_cluster(&self) -> Result<Vec<RawKv>, DcsError> {
        let prefix = self.settings.layout.prefix();
        let client = self.client.clone();
        let response = retry(self.settings.retry_timeout, |_| {
            let (mut client, prefix) = (client.clone(), prefix.clone());
            async move {
                client
                    .get(prefix, Some(GetOptions::new().with_prefix()))
                    .await
                    .map_err(map_err)
            }
        })
        .await?;
        Ok(response.kvs().iter().filter_map(cache::raw_kv).collect())
    }

    /// The condition of the lock operations: the leader key holds this member's name.
    fn leader_is_mine(&self) -> Compare {
        Compare::value(
            self.settings.layout.leader(),
            CompareOp::Equal,
            self.settings.name.as_str(),
        )
    }

    /// Writes a plain key unless the cache shows it already holds `value`.
    async fn put_if_changed(&self, key: &str, value: &str) -> Result<(), DcsError> {
        if self.cache.get(key).is_some_and(|kv| kv.value == value) {
            return Ok(());
        }
        self.put(key, value, None).await.map(|_| ())
    }
}

fn tls_options(options: &EtcdOptions) -> Result<etcd_client::TlsOptions, DcsError> {
    let read = |path: &str| {
        std::fs::read(path).map_err(|e| DcsError::Refused(format!("cannot read {path}: {e}")))
    };
    let mut tls = etcd_client::TlsOptions::new();
    if let Some(ca) = &options.cacert {
        tls = tls.ca_certificate(etcd_client::Certificate::from_pem(read(ca)?));
    }
    if let (Some(cert), Some(key)) = (&options.cert, &options.key) {
        tls = tls.identity(etcd_client::Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(tls)
}

#[async_trait]
impl Dcs for Etcd3 {
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

    async fn write_if_changed(&self, key: &str, value: &str) -> Result<(), DcsError> {
        self.put_if_changed(key, value).await
    }

    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        // What this read sees no longer counts as a change for `watch` (unless a watch is
        // running right now: then it will see the change itself).
        if let Ok(mut changes) = self.changes.try_lock() {
            changes.borrow_and_update();
        }
        let kvs = match self.cache.snapshot() {
            Some(kvs) => kvs,
            None => self.read_cluster().await?,
        };
        Ok(crate::decode_cluster(&self.settings.layout, kvs))
    }

    async fn attempt_to_acquire_leader(&self) -> Result<bool, DcsError> {
        let key = self.settings.layout.leader();
        for _ in 0..2 {
            let lease = self.refresh_lease(self.settings.loop_wait / 2).await?;
            let txn = Txn::new()
                .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(
                    key.as_str(),
                    self.settings.name.as_str(),
                    Some(PutOptions::new().with_lease(lease)),
                )]);
            match self.txn(txn).await {
                Ok(response) => {
                    if !response.succeeded() {
                        tracing::info!("Could not take out TTL lock");
                    }
                    return Ok(response.succeeded());
                }
                // The lease expired between the keep-alive and the txn: once more with a new one.
                Err(DcsError::NotFound(_)) => *self.lease.lock().await = Lease::default(),
                Err(e) => return Err(e),
            }
        }
        Err(DcsError::NotFound("etcd lease".into()))
    }

    async fn update_leader(&self) -> Result<bool, DcsError> {
        let lease = self.refresh_lease(Duration::ZERO).await?;
        let key = self.settings.layout.leader();
        // The key lives as long as the lease: when the cache shows it ours on this lease, the
        // keep-alive that just succeeded renewed it, and no write is needed.
        if let Some(kv) = self.cache.get(&key) {
            if kv.value == self.settings.name && kv.lease == Some(lease) {
                return Ok(true);
            }
            if kv.value != self.settings.name {
                return Ok(false);
            }
        }
        // Ours on an older lease (re-granted after expiry) or cache not ready: move it to this
        // lease only while the value is still our name.
        let txn = Txn::new()
            .when([self.leader_is_mine()])
            .and_then([TxnOp::put(
                key.as_str(),
                self.settings.name.as_str(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        Ok(self.txn(txn).await?.succeeded())
    }

    async fn delete_leader(&self) -> Result<bool, DcsError> {
        let key = self.settings.layout.leader();
        let txn = Txn::new()
            .when([self.leader_is_mine()])
            .and_then([TxnOp::delete(key.as_str(), None)]);
        Ok(self.txn(txn).await?.succeeded())
    }

    async fn release_leader(&self, status: &Status) -> Result<bool, DcsError> {
        let key = self.settings.layout.leader();
        let txn = Txn::new().when([self.leader_is_mine()]).and_then([
            TxnOp::put(self.settings.layout.status(), status.encode(), None),
            TxnOp::delete(key.as_str(), None),
        ]);
        Ok(self.txn(txn).await?.succeeded())
    }

    async fn touch_member(&self, member: &Member) -> Result<(), DcsError> {
        let lease = self.refresh_lease(self.settings.loop_wait / 2).await?;
        let value = member.encode();
        let key = self.settings.layout.member(&self.settings.name);
        let mut last = self.last_member.lock().await;
        // What we wrote last on this lease is still there unless the cache, once current, says
        // otherwise (deleted or changed by someone else).
        let confirmed = match self.cache.lookup(&key) {
            None => true,
            Some(cached) => cached.is_some_and(|kv| kv.value == value && kv.lease == Some(lease)),
        };
        let unchanged = last.as_ref() == Some(&(value.clone(), lease)) && confirmed;
        if !unchanged {
            match self.put(&key, &value, Some(lease)).await {
                Err(DcsError::NotFound(_)) => *self.lease.lock().await = Lease::default(),
                other => {
                    other?;
                }
            }
            *last = Some((value, lease));
        }
        Ok(())
    }

    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        let key = self.settings.layout.initialize();
        if !create_new {
            return self.put(&key, sysid, None).await.map(|_| true);
        }
        let txn = Txn::new()
            .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), sysid, None)]);
        Ok(self.txn(txn).await?.succeeded())
    }

    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        let key = self.settings.layout.initialize();
        let client = self.client.clone();
        retry(self.settings.retry_timeout, |_| {
            let (mut client, key) = (client.clone(), key.clone());
            async move { client.delete(key, None).await.map_err(map_err) }
        })
        .await
        .map(|_| ())
    }

    async fn delete_sync(&self, version: Option<Version>) -> Result<(), DcsError> {
        let key = self.settings.layout.sync();
        let compare = version
            .map(|Version(v)| vec![Compare::mod_revision(key.as_str(), CompareOp::Equal, v)]);
        let txn = Txn::new()
            .when(compare.unwrap_or_default())
            .and_then([TxnOp::delete(key.as_str(), None)]);
        if self.txn(txn).await?.succeeded() {
            Ok(())
        } else {
            Err(DcsError::Conflict(key))
        }
    }

    async fn delete_cluster(&self) -> Result<(), DcsError> {
        let prefix = self.settings.layout.prefix();
        let client = self.client.clone();
        retry(self.settings.retry_timeout, |_| {
            let (mut client, prefix) = (client.clone(), prefix.clone());
            async move {
                client
                    .delete(prefix, Some(DeleteOptions::new().with_prefix()))
                    .await
                    .map_err(map_err)
            }
        })
        .await
        .map(|_| ())
    }

    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        let mut changes = self.changes.lock().await;
        Ok(matches!(
            tokio::time::timeout(timeout, changes.changed()).await,
            Ok(Ok(()))
        ))
    }
}
