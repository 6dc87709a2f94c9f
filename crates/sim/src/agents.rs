//! The agents: each the real [`Runtime`] built from the simulated parts, run as a task that the
//! nemesis can freeze (it is not polled: SIGSTOP; its long tasks and its fence go on, as the
//! fence guard is a process of its own), crash (the task and its long tasks dropped: kill -9;
//! the server runs on) and start again.

use crate::parts::{SimClock, SimDcs, SimFence, SimPeers, SimPostgres, StoreClock, host};
use crate::world::{Shared, lock};
use ferroni::runtime::{Parts, Runtime, Signal};
use ferroni_dcs::DcsSettings;
use ferroni_dcs::memory::{MemoryDcs, MemoryStore};
use ferroni_model::KeyLayout;
use ferroni_pg::local::PgSettings;
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

/// The timings every simulated cluster runs with: Ferroni's fastest (4 / 1 / 1).
pub const TTL: u64 = 4;
pub const LOOP_WAIT: u64 = 1;
pub const RETRY_TIMEOUT: u64 = 1;
/// `maximum_lag_on_failover` of the simulated clusters: 16 writes, 1.6 s of them, so a replica
/// cut off for a few seconds is too far behind to be promoted and the lag rule is exercised
/// (Patroni's 1 MiB would take the simulated writes two hours to reach).
pub const MAXIMUM_LAG: u64 = 16 * crate::world::WRITE_BYTES;

/// Whether an agent's task may run.
#[derive(Default)]
struct Gate {
    frozen: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// A future that is not polled while its gate is frozen.
struct Freezable<F> {
    inner: Pin<Box<F>>,
    gate: Arc<Gate>,
}

impl<F: Future> Future for Freezable<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if self.gate.frozen.load(Ordering::SeqCst) {
            *self.gate.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
            return Poll::Pending;
        }
        self.inner.as_mut().poll(cx)
    }
}

/// One member's agent slot.
struct Slot {
    task: Option<JoinHandle<anyhow::Result<i32>>>,
    gate: Arc<Gate>,
    signals: Option<mpsc::Sender<Signal>>,
}

/// Every agent of a simulated cluster.
pub struct Agents {
    world: Shared,
    store: Arc<MemoryStore>,
    origin: Instant,
    states: Arc<Vec<watch::Sender<Arc<ferroni_api::NodeState>>>>,
    slots: Vec<Slot>,
    mutation: Option<Mutation>,
}

/// A rule broken on purpose, to show the oracle catches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mutation {
    /// The fence guard never stops a server: a frozen leader's PostgreSQL keeps accepting
    /// writes after its lease expired.
    NoFence,
    /// `decide()` without the lag check: a replica any distance behind the last published
    /// `/status` position may take the lock and be promoted.
    NoLagCheck,
}

/// `decide()` with the lag check removed ([`Mutation::NoLagCheck`]).
fn decide_without_lag_check(input: &ferroni_ha::Input) -> ferroni_ha::Decision {
    let mut input = input.clone();
    input.config.maximum_lag_on_failover = u64::MAX;
    ferroni_ha::decide(&input)
}

/// Member `i`'s name.
pub fn name(i: usize) -> String {
    format!("node{}", i + 1)
}

/// Member `i`'s configuration, as a user would write it.
fn config(i: usize) -> ferroni_config::Loaded {
    let tree = json!({
        "scope": "sim",
        "namespace": "/service",
        "name": name(i),
        "restapi": {"listen": format!("{}:8008", host(i)), "connect_address": format!("{}:8008", host(i))},
        "etcd3": {"hosts": "127.0.0.1:2379"},
        "bootstrap": {"dcs": {"ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                              "maximum_lag_on_failover": MAXIMUM_LAG,
                              "postgresql": {"use_pg_rewind": true}}},
        "postgresql": {"listen": format!("{}:5432", host(i)), "connect_address": format!("{}:5432", host(i)),
                       "data_dir": format!("/sim/{}", name(i)),
                       "authentication": {"superuser": {"username": "postgres", "password": "x"},
                                          "replication": {"username": "replicator", "password": "x"}}},
    });
    match ferroni_config::from_tree(tree) {
        Ok(loaded) => loaded,
        Err(e) => panic!("the simulated configuration does not load: {e}"),
    }
}

impl Agents {
    pub fn new(world: Shared, members: usize, mutation: Option<Mutation>) -> Agents {
        let origin = Instant::now();
        let store = MemoryStore::new(Arc::new(StoreClock { origin }));
        let states = (0..members)
            .map(|_| watch::channel(Arc::default()).0)
            .collect();
        let slots = (0..members)
            .map(|_| Slot {
                task: None,
                gate: Arc::default(),
                signals: None,
            })
            .collect();
        Agents {
            world,
            store,
            origin,
            states: Arc::new(states),
            slots,
            mutation,
        }
    }

    /// When the simulation started, on tokio's clock.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The DCS store every agent shares.
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.store
    }

    /// Starts member `i`'s agent (after a crash: a new one, as a supervisor would).
    pub fn start(&mut self, i: usize) {
        let loaded = config(i);
        let settings = DcsSettings {
            name: name(i),
            layout: KeyLayout::new("/service", "sim", None),
            ttl: Duration::from_secs(TTL),
            retry_timeout: Duration::from_secs(RETRY_TIMEOUT),
            loop_wait: Duration::from_secs(LOOP_WAIT),
        };
        let parts = Parts {
            config_path: None,
            dcs: Box::new(SimDcs {
                inner: MemoryDcs::new(self.store.clone(), settings),
                world: self.world.clone(),
                node: i,
            }),
            pg: Arc::new(SimPostgres {
                world: self.world.clone(),
                node: i,
                settings: PgSettings {
                    name: name(i),
                    ..PgSettings::default()
                },
            }),
            clock: Arc::new(SimClock {
                origin: self.origin,
            }),
            peer_link: Arc::new(SimPeers {
                world: self.world.clone(),
                node: i,
                states: self.states.clone(),
            }),
            fence: Box::new(SimFence {
                world: self.world.clone(),
                node: i,
                broken: self.mutation == Some(Mutation::NoFence),
            }),
            serve_api: false,
            decide: match self.mutation {
                Some(Mutation::NoLagCheck) => decide_without_lag_check,
                _ => ferroni_ha::decide,
            },
            loaded,
        };
        let runtime = Runtime::from_parts(parts);
        let mut published = runtime.state();
        let relay = self.states[i].clone();
        // The agent's published state, copied where the others' links read it.
        tokio::spawn(async move {
            while published.changed().await.is_ok() {
                let state = published.borrow().clone();
                relay.send_replace(state);
            }
        });
        let (tx, rx) = mpsc::channel(4);
        let gate = Arc::new(Gate::default());
        let run = Freezable {
            inner: Box::pin(
                runtime
                    .run(rx)
                    .instrument(tracing::info_span!("agent", member = %name(i))),
            ),
            gate: gate.clone(),
        };
        let slot = &mut self.slots[i];
        slot.gate = gate;
        slot.signals = Some(tx);
        slot.task = Some(tokio::spawn(run));
        lock(&self.world).agent_down[i] = false;
    }

    /// kill -9 of member `i`'s agent; its server runs on.
    pub fn crash(&mut self, i: usize) {
        if let Some(task) = self.slots[i].task.take() {
            task.abort();
        }
        self.slots[i].signals = None;
        lock(&self.world).agent_down[i] = true;
    }

    pub fn freeze(&mut self, i: usize) {
        self.slots[i].gate.frozen.store(true, Ordering::SeqCst);
        lock(&self.world).agent_down[i] = true;
    }

    pub fn thaw(&mut self, i: usize) {
        let gate = &self.slots[i].gate;
        gate.frozen.store(false, Ordering::SeqCst);
        if let Some(waker) = gate.waker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            waker.wake();
        }
        lock(&self.world).agent_down[i] = self.slots[i].task.is_none();
    }

    /// Whether member `i`'s agent runs (not crashed; frozen counts as running).
    pub fn running(&self, i: usize) -> bool {
        self.slots[i]
            .task
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// The state member `i`'s agent last published.
    pub fn state(&self, i: usize) -> Arc<ferroni_api::NodeState> {
        self.states[i].borrow().clone()
    }
}
