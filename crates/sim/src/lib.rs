//! ferroni-sim: whole Ferroni clusters in one process, deterministically. Each member is the
//! real agent loop ([`ferroni::runtime::Runtime`], so the real `decide()`) built from simulated
//! parts ([`parts`]) over one [`world`]: model PostgreSQL servers, an in-memory DCS with TTL
//! leases, the links between members. Time is tokio's, paused: it jumps to the next timer when
//! every task waits, so a minute of cluster life takes milliseconds, and one seed always gives
//! the same schedule. A seeded nemesis ([`schedule`]) injects faults; the [`oracle`] checks
//! every step and the end.
//!
//! - [`rng`]: the seeded generator.
//! - [`world`]: the servers, links, writes and fences.
//! - [`parts`]: the agent's parts over the world.
//! - [`agents`]: starting, freezing and crashing agents.
//! - [`schedule`]: the faults of a seed.
//! - [`oracle`]: what must hold.

pub mod agents;
pub mod oracle;
pub mod parts;
pub mod rng;
pub mod schedule;
pub mod world;

use agents::Agents;
use ferroni_dcs::Dcs;
use oracle::Oracle;
use schedule::Fault;
use std::collections::BTreeMap;
use std::time::Duration;
use world::{World, lock};

/// Members per simulated cluster.
pub const MEMBERS: usize = 3;
/// How often the world moves (replication, fences) and the oracle looks.
const STEP: Duration = Duration::from_millis(50);
/// How often a client writes.
const WRITE_EVERY: u64 = 2;
/// How long the cluster has to bootstrap, and to converge once the faults stop.
const BOOTSTRAP: Duration = Duration::from_secs(30);
const SETTLE: Duration = Duration::from_secs(40);

/// What one schedule did.
#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub faults: BTreeMap<&'static str, u64>,
    pub violations: Vec<String>,
    pub fenced: u64,
    pub rewinds: u64,
    /// Former primaries rewound before they followed a new leader, and ones that followed it
    /// without (their WAL had not gone past the fork).
    pub former_primaries_rewound: u64,
    pub former_primaries_followed: u64,
    pub promotions: usize,
    pub acks: usize,
}

/// Runs the schedule of `seed` on a fresh single-threaded runtime with paused time.
pub fn run_seed(seed: u64) -> Report {
    run_mutated(seed, None)
}

/// [`run_seed`] with a rule broken on purpose.
pub fn run_mutated(seed: u64, mutation: Option<agents::Mutation>) -> Report {
    run_schedule(seed, None, mutation)
}

/// Every schedule of `seeds`, spread over the machine's cores (each schedule is a world of its
/// own, so the order they run in changes nothing), returned in seed order.
pub fn run_seeds(seeds: std::ops::Range<u64>, mutation: Option<agents::Mutation>) -> Vec<Report> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicU64::new(seeds.start);
    let mut reports: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if seed >= seeds.end {
                            return mine;
                        }
                        mine.push(run_mutated(seed, mutation));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(mine) => mine,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    reports.sort_by_key(|r| r.seed);
    reports
}

/// The schedule of `seed` with faults of one kind only (`None`: every kind), and a rule broken
/// on purpose.
pub fn run_schedule(
    seed: u64,
    only: Option<schedule::FaultKind>,
    mutation: Option<agents::Mutation>,
) -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build();
    match runtime {
        Ok(rt) => rt.block_on(simulate(seed, only, mutation)),
        Err(e) => Report {
            seed,
            violations: vec![format!("cannot build a runtime: {e}")],
            ..Report::default()
        },
    }
}

async fn simulate(
    seed: u64,
    only: Option<schedule::FaultKind>,
    mutation: Option<agents::Mutation>,
) -> Report {
    let world = World::new(MEMBERS, seed);
    let mut agents = Agents::new(world.clone(), MEMBERS, mutation);
    let status_reader = ferroni_dcs::memory::MemoryDcs::new(
        agents.store().clone(),
        ferroni_dcs::DcsSettings {
            name: "oracle".into(),
            layout: ferroni_model::KeyLayout::new("/service", "sim", None),
            ttl: Duration::from_secs(agents::TTL),
            retry_timeout: Duration::from_secs(1),
            loop_wait: Duration::from_secs(1),
        },
    );
    let origin = agents.origin();
    ORIGIN.set(Some(origin));
    let mut oracle = Oracle::default();
    let mut report = Report {
        seed,
        ..Report::default()
    };
    for i in 0..MEMBERS {
        agents.start(i);
    }
    let faults = schedule::faults_of(seed, MEMBERS, only);
    let fault_window = faults.iter().map(|f| f.until_ms).max().unwrap_or(0);
    let bootstrap_ms = ms(BOOTSTRAP);
    let end_ms = bootstrap_ms + fault_window + ms(SETTLE);
    let mut step: u64 = 0;
    let mut active: Vec<Fault> = Vec::new();
    let mut pending = faults.into_iter().peekable();
    loop {
        tokio::time::sleep(STEP).await;
        step += 1;
        let now_ms = ms(origin.elapsed());
        let optime = match status_reader.get_cluster().await {
            Ok(c) => c.status.map_or(0, |s| s.optime),
            Err(_) => 0,
        };
        {
            let mut w = lock(&world);
            w.now_ms = now_ms;
            w.status_optime = w.status_optime.max(optime);
            w.step(1_000_000 + now_ms);
            if step.is_multiple_of(WRITE_EVERY) {
                w.write(now_ms);
            }
            oracle.step(&w);
        }
        if now_ms >= bootstrap_ms {
            let since = now_ms - bootstrap_ms;
            while pending.peek().is_some_and(|f| f.at_ms <= since) {
                if let Some(fault) = pending.next() {
                    tracing::info!("sim {now_ms} ms: {fault}");
                    *report.faults.entry(fault.kind.name()).or_default() += 1;
                    fault.begin(&mut agents, &world);
                    active.push(fault);
                }
            }
            let (over, still): (Vec<Fault>, Vec<Fault>) =
                active.into_iter().partition(|f| f.until_ms <= since);
            active = still;
            for fault in over {
                tracing::info!("sim {now_ms} ms: end of {fault}");
                fault.end(&mut agents, &world);
            }
        }
        if now_ms >= end_ms {
            break;
        }
    }
    for i in 0..MEMBERS {
        if !agents.running(i) {
            oracle
                .violations
                .push(format!("node{}'s agent stopped by itself", i + 1));
        }
    }
    let w = lock(&world);
    tracing::debug!("world at the end: {:?}; cut {:?}", w.servers, w.cut);
    oracle.finish(&w);
    report.violations = oracle.violations;
    report.fenced = w.fenced;
    report.rewinds = w.rewinds;
    report.former_primaries_rewound = w.former_primaries_rewound;
    report.former_primaries_followed = w.former_primaries_followed;
    report.promotions = w.promotions.len();
    report.acks = w.acks.len();
    report
}

thread_local! {
    /// When the schedule running on this thread started (for log lines); per thread because
    /// schedules run side by side.
    static ORIGIN: std::cell::Cell<Option<tokio::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// Simulated milliseconds since the running schedule started (0 outside one).
pub fn sim_ms() -> u64 {
    ORIGIN.get().map_or(0, |o| ms(o.elapsed()))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
