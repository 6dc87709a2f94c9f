//! An in-process DCS: keys in a map, leader and member keys with a TTL measured by an injected
//! [`Clock`]. Shared by every agent of a test or of the simulator; each agent has its own
//! [`MemoryDcs`] handle. Semantics are etcd v2's (TTL keys, compare on value or version).

use crate::{Dcs, DcsError, DcsSettings};
use async_trait::async_trait;
use ferroni_model::{Cluster, KeyLayout, Member, RawKv, Status, Version};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The time source for TTLs.
pub trait Clock: Send + Sync {
    /// Time since an arbitrary origin.
    fn now(&self) -> Duration;
}

/// Real monotonic time.
#[derive(Debug)]
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(Mutex<Duration>);

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    version: i64,
    expires: Option<Duration>,
}

#[derive(Debug, Default)]
struct State {
    keys: BTreeMap<String, Entry>,
    revision: i64,
}

/// The shared store.
pub struct MemoryStore {
    state: Mutex<State>,
    /// Bumped on every change that wakes watchers (see `crate::wakes`).
    generation: AtomicU64,
    /// Each handle's notifier, in the order the handles were made: watchers wake in that order
    /// every time, which a simulation replaying a seed needs (tokio's `watch` spreads waiters
    /// over shards picked at random).
    watchers: Mutex<Vec<Weak<Notify>>>,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    /// An empty store on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Arc<MemoryStore> {
        Arc::new(MemoryStore {
            state: Mutex::new(State::default()),
            generation: AtomicU64::new(0),
            watchers: Mutex::new(Vec::new()),
            clock,
        })
    }

    /// Wakes every handle waiting in `watch`.
    fn notify(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        watchers.retain(|w| match w.upgrade() {
            Some(n) => {
                n.notify_waiters();
                true
            }
            None => false,
        });
    }

    /// The state with expired keys removed.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        let mut wake = false;
        state.keys.retain(|key, e| {
            let live = e.expires.is_none_or(|t| t > now);
            wake |= !live && crate::wakes(kind_of(key), Some(&e.value), None);
            live
        });
        if wake {
            self.notify();
        }
        state
    }

    fn put(&self, state: &mut State, key: &str, value: &str, ttl: Option<Duration>) -> Version {
        state.revision += 1;
        let expires = ttl.map(|t| self.clock.now() + t);
        let version = state.revision;
        let old = state.keys.insert(
            key.to_string(),
            Entry {
                value: value.to_string(),
                version,
                expires,
            },
        );
        if crate::wakes(
            kind_of(key),
            old.as_ref().map(|e| e.value.as_str()),
            Some(value),
        ) {
            self.notify();
        }
        Version(version)
    }

    fn delete(&self, state: &mut State, key: &str) -> bool {
        let Some(old) = state.keys.remove(key) else {
            return false;
        };
        state.revision += 1;
        if crate::wakes(kind_of(key), Some(&old.value), None) {
            self.notify();
        }
        true
    }
}

/// What a key of the store is, from its path alone (the store holds one cluster's keys).
fn kind_of(key: &str) -> Option<ferroni_model::KeyKind> {
    use ferroni_model::KeyKind;
    if let Some((_, name)) = key.rsplit_once("/members/") {
        return (!name.is_empty() && !name.contains('/')).then(|| KeyKind::Member(name.into()));
    }
    if key.ends_with("/optime/leader") {
        return Some(KeyKind::OptimeLeader);
    }
    Some(match key.rsplit('/').next()? {
        "leader" => KeyKind::Leader,
        "config" => KeyKind::Config,
        "failover" => KeyKind::Failover,
        "sync" => KeyKind::Sync,
        "initialize" => KeyKind::Initialize,
        _ => return None,
    })
}

/// One agent's handle on a [`MemoryStore`].
pub struct MemoryDcs {
    store: Arc<MemoryStore>,
    settings: DcsSettings,
    /// Woken by the store on a change.
    notify: Arc<Notify>,
    /// The store's generation this handle last saw.
    seen: AtomicU64,
}

impl MemoryDcs {
    /// A handle for the agent described by `settings`.
    pub fn new(store: Arc<MemoryStore>, settings: DcsSettings) -> MemoryDcs {
        let notify = Arc::new(Notify::new());
        store
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&notify));
        let seen = AtomicU64::new(store.generation.load(Ordering::SeqCst));
        MemoryDcs {
            store,
            settings,
            notify,
            seen,
        }
    }

    fn cas(&self, key: &str, value: &str, version: Option<Version>) -> Result<Version, DcsError> {
        let mut state = self.store.lock();
        if let Some(Version(v)) = version {
            let current = state.keys.get(key).map(|e| e.version);
            if current != Some(v) {
                return Err(DcsError::Conflict(key.to_string()));
            }
        }
        Ok(self.store.put(&mut state, key, value, None))
    }
}

#[async_trait]
impl Dcs for MemoryDcs {
    fn layout(&self) -> &KeyLayout {
        &self.settings.layout
    }

    async fn write(
        &self,
        key: &str,
        value: &str,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        self.cas(key, value, version)
    }

    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        // What this read sees no longer counts as a change for `watch`.
        self.seen.store(
            self.store.generation.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        let state = self.store.lock();
        let prefix = self.settings.layout.prefix();
        let kvs = state
            .keys
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, e)| RawKv {
                key: k.clone(),
                value: e.value.clone(),
                version: Version(e.version),
                lease: None,
            });
        Ok(crate::decode_cluster(
            &self.settings.layout,
            kvs.collect::<Vec<_>>(),
        ))
    }

    async fn attempt_to_acquire_leader(&self) -> Result<bool, DcsError> {
        let key = self.settings.layout.leader();
        let mut state = self.store.lock();
        if state.keys.contains_key(&key) {
            return Ok(false);
        }
        self.store.put(
            &mut state,
            &key,
            &self.settings.name,
            Some(self.settings.ttl),
        );
        Ok(true)
    }

    async fn update_leader(&self) -> Result<bool, DcsError> {
        let key = self.settings.layout.leader();
        let mut state = self.store.lock();
        match state.keys.get(&key) {
            Some(e) if e.value == self.settings.name => {
                self.store.put(
                    &mut state,
                    &key,
                    &self.settings.name,
                    Some(self.settings.ttl),
                );
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_leader(&self) -> Result<bool, DcsError> {
        let key = self.settings.layout.leader();
        let mut state = self.store.lock();
        match state.keys.get(&key) {
            Some(e) if e.value == self.settings.name => Ok(self.store.delete(&mut state, &key)),
            _ => Ok(false),
        }
    }

    async fn release_leader(&self, status: &Status) -> Result<bool, DcsError> {
        let key = self.settings.layout.leader();
        let mut state = self.store.lock();
        match state.keys.get(&key) {
            Some(e) if e.value == self.settings.name => {
                let status_key = self.settings.layout.status();
                self.store
                    .put(&mut state, &status_key, &status.encode(), None);
                Ok(self.store.delete(&mut state, &key))
            }
            _ => Ok(false),
        }
    }

    async fn touch_member(&self, member: &Member) -> Result<(), DcsError> {
        let key = self.settings.layout.member(&self.settings.name);
        let mut state = self.store.lock();
        self.store
            .put(&mut state, &key, &member.encode(), Some(self.settings.ttl));
        Ok(())
    }

    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        let key = self.settings.layout.initialize();
        let mut state = self.store.lock();
        if create_new && state.keys.contains_key(&key) {
            return Ok(false);
        }
        self.store.put(&mut state, &key, sysid, None);
        Ok(true)
    }

    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        let mut state = self.store.lock();
        self.store
            .delete(&mut state, &self.settings.layout.initialize());
        Ok(())
    }

    async fn delete_sync(&self, version: Option<Version>) -> Result<(), DcsError> {
        let key = self.settings.layout.sync();
        let mut state = self.store.lock();
        if let Some(Version(v)) = version
            && state.keys.get(&key).map(|e| e.version) != Some(v)
        {
            return Err(DcsError::Conflict(key));
        }
        self.store.delete(&mut state, &key);
        Ok(())
    }

    async fn delete_cluster(&self) -> Result<(), DcsError> {
        let prefix = self.settings.layout.prefix();
        let mut state = self.store.lock();
        let keys: Vec<String> = state
            .keys
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        for key in keys {
            self.store.delete(&mut state, &key);
        }
        Ok(())
    }

    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        let changed = async {
            loop {
                let notified = self.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let now = self.store.generation.load(Ordering::SeqCst);
                if self.seen.swap(now, Ordering::SeqCst) != now {
                    return;
                }
                notified.await;
            }
        };
        Ok(tokio::time::timeout(timeout, changed).await.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroni_model::{Failover, SyncState};

    fn agent(store: &Arc<MemoryStore>, name: &str) -> MemoryDcs {
        MemoryDcs::new(
            store.clone(),
            DcsSettings {
                name: name.into(),
                layout: KeyLayout::new("service", "demo", None),
                ttl: Duration::from_secs(30),
                retry_timeout: Duration::from_secs(10),
                loop_wait: Duration::from_secs(10),
            },
        )
    }

    #[tokio::test]
    async fn the_lock_expires_with_the_clock_and_cannot_be_taken_back() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(clock.clone());
        let (a, b) = (agent(&store, "a"), agent(&store, "b"));
        assert!(a.attempt_to_acquire_leader().await.unwrap());
        assert!(!b.attempt_to_acquire_leader().await.unwrap());
        clock.advance(Duration::from_secs(29));
        assert!(a.update_leader().await.unwrap(), "renewed before expiry");
        clock.advance(Duration::from_secs(30));
        assert!(
            b.attempt_to_acquire_leader().await.unwrap(),
            "expired exactly at ttl after the renewal"
        );
        assert!(!a.update_leader().await.unwrap());
        assert!(!a.delete_leader().await.unwrap());
        assert_eq!(b.get_cluster().await.unwrap().leader_name(), Some("b"));
    }

    #[tokio::test]
    async fn the_status_outlives_the_leader_and_only_the_holder_releases_with_one() {
        let clock = Arc::new(ManualClock::default());
        let store = MemoryStore::new(clock.clone());
        let (a, b) = (agent(&store, "a"), agent(&store, "b"));
        let status = |optime| Status {
            optime,
            ..Status::default()
        };
        assert!(a.attempt_to_acquire_leader().await.unwrap());
        a.set_status(&status(10)).await.unwrap();
        assert!(!b.release_leader(&status(5)).await.unwrap());
        assert_eq!(b.get_cluster().await.unwrap().status, Some(status(10)));
        assert!(a.release_leader(&status(20)).await.unwrap());
        clock.advance(Duration::from_secs(3600));
        let c = b.get_cluster().await.unwrap();
        assert_eq!(c.leader_name(), None);
        assert_eq!(c.status, Some(status(20)));
        assert!(!a.release_leader(&status(30)).await.unwrap());
    }

    #[tokio::test]
    async fn compare_and_set_conflicts_are_conflicts() {
        let store = MemoryStore::new(Arc::new(ManualClock::default()));
        let a = agent(&store, "a");
        let v1 = a.set_failover(&Failover::default(), None).await.unwrap();
        let v2 = a
            .set_failover(
                &Failover {
                    member: Some("b".into()),
                    ..Failover::default()
                },
                Some(v1),
            )
            .await
            .unwrap();
        let stale = a.set_failover(&Failover::default(), Some(v1)).await;
        assert_eq!(
            stale,
            Err(DcsError::Conflict("/service/demo/failover".into()))
        );
        assert_eq!(a.get_cluster().await.unwrap().failover.unwrap().version, v2);
        let s = a.set_sync(&SyncState::default(), None).await.unwrap();
        assert!(matches!(
            a.delete_sync(Some(Version(s.0 + 100))).await,
            Err(DcsError::Conflict(_))
        ));
        assert!(a.delete_sync(Some(s)).await.is_ok());
    }

    #[tokio::test]
    async fn watch_wakes_on_a_change() {
        let store = MemoryStore::new(Arc::new(SystemClock::default()));
        let (a, b) = (Arc::new(agent(&store, "a")), agent(&store, "b"));
        a.get_cluster().await.unwrap();
        assert!(
            !a.watch(Duration::from_millis(10)).await.unwrap(),
            "nothing changed since the read"
        );
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move { a.watch(Duration::from_secs(10)).await })
        };
        b.attempt_to_acquire_leader().await.unwrap();
        assert_eq!(waiter.await.unwrap(), Ok(true));
    }
}
