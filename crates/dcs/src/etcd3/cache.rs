//! The cluster cache of the etcd3 backend: one range read, then one watch over the cluster prefix
//! that applies every change and wakes whoever waits in `watch`. Rebuilt from a fresh read after
//! any break (lost connection, compaction).

use super::map_err;
use etcd_client::{Client, EventType, GetOptions, KeyValue, WatchOptions};
use ferroni_model::{KeyLayout, RawKv, Version};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// A key as the cache holds it; `None` for keys that are not UTF-8 (they cannot be Patroni's).
pub(crate) fn raw_kv(kv: &KeyValue) -> Option<RawKv> {
    let lease = kv.lease();
    Some(RawKv {
        key: kv.key_str().ok()?.to_string(),
        value: String::from_utf8_lossy(kv.value()).into_owned(),
        version: Version(kv.mod_revision()),
        lease: (lease != 0).then_some(lease),
    })
}

#[derive(Default)]
struct State {
    /// Whether the watch is established and the map reflects etcd.
    synced: bool,
    kvs: BTreeMap<String, RawKv>,
}

/// The cache shared by the backend and its watch task.
pub(crate) struct Cache {
    state: Mutex<State>,
    changes: watch::Sender<u64>,
}

impl Cache {
    pub(crate) fn new() -> (Arc<Cache>, watch::Receiver<u64>) {
        let (changes, receiver) = watch::channel(0);
        (
            Arc::new(Cache {
                state: Mutex::new(State::default()),
                changes,
            }),
            receiver,
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key, when the cache is current.
    pub(crate) fn snapshot(&self) -> Option<Vec<RawKv>> {
        let state = self.lock();
        state.synced.then(|| state.kvs.values().cloned().collect())
    }

    /// One key: `None` while the cache is not current, else whether etcd holds it.
    pub(crate) fn lookup(&self, key: &str) -> Option<Option<RawKv>> {
        let state = self.lock();
        state.synced.then(|| state.kvs.get(key).cloned())
    }

    /// One key, when the cache is current and holds it.
    pub(crate) fn get(&self, key: &str) -> Option<RawKv> {
        let state = self.lock();
        if state.synced {
            state.kvs.get(key).cloned()
        } else {
            None
        }
    }

    fn notify(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn unsync(&self) {
        self.lock().synced = false;
    }
}

/// Whether a change of `key` from `old` to `new` should wake an agent waiting in `watch`.
fn wakes(layout: &KeyLayout, key: &str, old: Option<&RawKv>, new: Option<&RawKv>) -> bool {
    crate::wakes(
        layout.classify(key),
        old.map(|kv| kv.value.as_str()),
        new.map(|kv| kv.value.as_str()),
    )
}

/// Keeps `cache` current until the task is aborted.
pub(crate) async fn run(cache: Arc<Cache>, client: Client, layout: KeyLayout) {
    let mut backoff = Duration::from_millis(100);
    let prefix = layout.prefix();
    loop {
        match follow(&cache, client.clone(), &layout).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::debug!("etcd watch on {prefix} broke: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
        cache.unsync();
        cache.notify();
    }
}

/// One read and one watch; returns when the watch ends.
async fn follow(
    cache: &Cache,
    mut client: Client,
    layout: &KeyLayout,
) -> Result<(), crate::DcsError> {
    let prefix = layout.prefix();
    let prefix = prefix.as_str();
    let response = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(map_err)?;
    let revision = response.header().map_or(0, |h| h.revision());
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1);
    let mut stream = client.watch(prefix, Some(options)).await.map_err(map_err)?;
    {
        let mut state = cache.lock();
        state.kvs = response
            .kvs()
            .iter()
            .filter_map(raw_kv)
            .map(|kv| (kv.key.clone(), kv))
            .collect();
        state.synced = true;
    }
    cache.notify();
    while let Some(message) = stream.message().await.map_err(map_err)? {
        if message.canceled() || message.compact_revision() > 0 {
            return Ok(());
        }
        if message.events().is_empty() {
            continue;
        }
        let mut wake = false;
        {
            let mut state = cache.lock();
            for event in message.events() {
                let Some(kv) = event.kv().and_then(raw_kv) else {
                    continue;
                };
                let key = kv.key.clone();
                let old = match event.event_type() {
                    EventType::Put => {
                        let new = kv.clone();
                        let old = state.kvs.insert(key.clone(), kv);
                        wake |= wakes(layout, &key, old.as_ref(), Some(&new));
                        continue;
                    }
                    EventType::Delete => state.kvs.remove(&key),
                };
                wake |= wakes(layout, &key, old.as_ref(), None);
            }
        }
        if wake {
            cache.notify();
        }
    }
    Ok(())
}
