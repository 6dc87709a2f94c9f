//! The simulated machines: one model PostgreSQL server per member, the links between members
//! and to the DCS, the clients' writes, and the fence guards. Every agent's parts read and
//! change it under one lock, never held across an await.
//!
//! What the server model keeps is what the HA decision and the oracle depend on: whether it
//! runs, as primary or standby, its timeline and the history of the timelines before it, the end
//! of its WAL, and where it streams from. WAL is a number: a write adds to the primary's end; a
//! standby streaming from an upstream whose history contains its own takes the upstream's end
//! (asynchronous replication, one step behind at most); one whose WAL went past the point where
//! its upstream's timeline forked off has diverged and streams nothing until rewound.

use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes of WAL one client write adds.
pub const WRITE_BYTES: u64 = 128;
/// Where a new cluster's WAL starts.
const INITIAL_LSN: u64 = 0x0100_0000;

/// One model server.
#[derive(Debug, Clone, Default)]
pub struct Server {
    pub initialized: bool,
    pub sysid: String,
    pub running: bool,
    pub in_recovery: bool,
    /// `standby.signal` written by `configure`.
    pub standby: bool,
    /// The member the recovery settings name.
    pub upstream: Option<usize>,
    /// The member it streams from right now.
    pub streaming_from: Option<usize>,
    pub timeline: u64,
    /// `(timeline, lsn)`: each earlier timeline and where it ended (a history file's lines).
    pub history: Vec<(u64, u64)>,
    pub flush: u64,
    /// Stopped cleanly (a shutdown checkpoint): `shutdown_checkpoint` answers.
    pub clean: bool,
    /// Its control data says `in production`.
    pub was_primary: bool,
    pub pid: i32,
    pub slots: Vec<String>,
    /// The fence guard's moment (monotonic ms), when armed.
    pub fence_deadline: Option<u64>,
    /// The branch of WAL history it is on (see [`Branch`]).
    pub branch: usize,
    /// Its last stop was a clean one, as a standby.
    pub stopped_as_standby: bool,
    /// Timeline numbers claimed in its `pg_wal` before a promotion (history files the agent
    /// wrote): a promotion names the new timeline after the newest consecutive one.
    pub claimed: Vec<u64>,
    /// It ran as a primary until its last stop, and has neither streamed nor been rewound since.
    pub left_primary: bool,
}

impl Server {
    /// Where timeline `timeline` ended in this server's history (`None`: it is current, or
    /// never was its).
    fn end_of(&self, timeline: u64) -> Option<u64> {
        self.history
            .iter()
            .find(|(t, _)| *t == timeline)
            .map(|(_, lsn)| *lsn)
    }

    /// Whether a standby at `(timeline, flush)` with history `history` can stream from this
    /// server: its history is a prefix of this one's and it did not go past the fork.
    pub fn can_feed(&self, standby: &Server) -> bool {
        if !self.initialized || standby.sysid != self.sysid || standby.timeline > self.timeline {
            return false;
        }
        if !self.history.starts_with(&standby.history) {
            return false;
        }
        match self.end_of(standby.timeline) {
            Some(end) => standby.flush <= end,
            None => standby.timeline == self.timeline && standby.flush <= self.flush,
        }
    }

    /// Accepts writes.
    pub fn writable(&self) -> bool {
        self.running && !self.in_recovery
    }
}

/// Where the WAL of `target` and `source` part, as pg_rewind finds it from their history files:
/// the end of the last timeline both went through alike, or the earlier end of the first one
/// they ended differently.
fn common_point(target: &Server, source: &Server) -> u64 {
    let line = |s: &Server| {
        let mut line = s.history.clone();
        line.push((s.timeline, s.flush));
        line
    };
    let (target, source) = (line(target), line(source));
    let mut start = 0;
    for (t, s) in target.iter().zip(&source) {
        if t.0 != s.0 {
            return start;
        }
        if t.1 != s.1 {
            return t.1.min(s.1);
        }
        start = t.1;
    }
    start
}

/// A line of WAL history: a new cluster, or a promotion off its parent at `fork`. Timeline
/// numbers can repeat on different branches (two members promoted on either side of a
/// partition both make timeline 2), so the oracle follows branches, not numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Branch {
    pub parent: Option<usize>,
    pub fork: u64,
}

/// A promotion, with what the oracle judges it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promotion {
    pub node: usize,
    pub at_ms: u64,
    /// Its WAL end when promoted.
    pub flush: u64,
    /// The `/status` position last published when it was promoted.
    pub status_optime: u64,
    /// The branch it was on, and the one the promotion started.
    pub from_branch: usize,
    pub branch: usize,
}

/// An acknowledged client write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub node: usize,
    pub branch: usize,
    pub timeline: u64,
    pub lsn: u64,
    pub at_ms: u64,
}

/// Everything simulated, shared.
#[derive(Debug)]
pub struct World {
    pub servers: Vec<Server>,
    /// `cut[a][b]`: messages between members `a` and `b` are lost.
    pub cut: Vec<Vec<bool>>,
    /// The member cannot reach the DCS.
    pub dcs_cut: Vec<bool>,
    /// How late the member's DCS requests arrive and their answers come back (ms; 0: at once).
    pub dcs_delay_ms: Vec<u64>,
    /// Its agent answers nothing (frozen or crashed).
    pub agent_down: Vec<bool>,
    pub acks: Vec<Ack>,
    pub branches: Vec<Branch>,
    pub promotions: Vec<Promotion>,
    /// The leader's `/status` position, as the oracle last read it.
    pub status_optime: u64,
    /// Simulated milliseconds since the start, as of the last step.
    pub now_ms: u64,
    /// Times the fence guard stopped a server.
    pub fenced: u64,
    /// pg_rewind runs, and the ones of a standby stopped cleanly that did not need it
    /// (the agent misjudged a healthy replica diverged).
    pub rewinds: u64,
    pub needless_rewinds: Vec<String>,
    /// Former primaries that came back as standbys of a new leader: rewound first because
    /// their WAL went past the fork, or streaming at once because it had not.
    pub former_primaries_rewound: u64,
    pub former_primaries_followed: u64,
    next_pid: i32,
    next_sysid: u64,
}

/// The world behind a lock.
pub type Shared = Arc<Mutex<World>>;

/// Locks the world (a panic elsewhere does not hide it).
pub fn lock(world: &Shared) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    pub fn new(members: usize, seed: u64) -> Shared {
        Arc::new(Mutex::new(World {
            servers: vec![Server::default(); members],
            cut: vec![vec![false; members]; members],
            dcs_cut: vec![false; members],
            dcs_delay_ms: vec![0; members],
            agent_down: vec![false; members],
            acks: Vec::new(),
            branches: Vec::new(),
            promotions: Vec::new(),
            status_optime: 0,
            now_ms: 0,
            fenced: 0,
            rewinds: 0,
            needless_rewinds: Vec::new(),
            former_primaries_rewound: 0,
            former_primaries_followed: 0,
            next_pid: 100,
            next_sysid: 7_000_000_000_000_000_000 + seed % 1_000_000,
        }))
    }

    pub fn linked(&self, a: usize, b: usize) -> bool {
        a == b || !(self.cut[a][b] || self.cut[b][a])
    }

    /// A new cluster in member `i`'s empty data directory.
    pub fn initdb(&mut self, i: usize) {
        self.next_sysid += 1;
        self.branches.push(Branch {
            parent: None,
            fork: 0,
        });
        self.servers[i] = Server {
            branch: self.branches.len() - 1,
            initialized: true,
            sysid: self.next_sysid.to_string(),
            timeline: 1,
            flush: INITIAL_LSN,
            clean: true,
            was_primary: true,
            ..Server::default()
        };
    }

    pub fn start(&mut self, i: usize) {
        self.next_pid += 1;
        let s = &mut self.servers[i];
        s.running = true;
        let timeline = s.timeline;
        s.claimed.retain(|t| *t < timeline);
        s.in_recovery = s.standby;
        s.pid = self.next_pid;
        s.clean = false;
        s.was_primary = !s.standby;
        s.left_primary &= s.standby;
    }

    pub fn stop(&mut self, i: usize, clean: bool) {
        let s = &mut self.servers[i];
        if s.running {
            s.left_primary |= !s.in_recovery;
            s.running = false;
            s.stopped_as_standby = clean && s.in_recovery;
            s.streaming_from = None;
            s.clean = clean;
            s.fence_deadline = None;
        }
    }

    pub fn promote(&mut self, i: usize) {
        self.branches.push(Branch {
            parent: Some(self.servers[i].branch),
            fork: self.servers[i].flush,
        });
        let branch = self.branches.len() - 1;
        self.promotions.push(Promotion {
            node: i,
            at_ms: self.now_ms,
            flush: self.servers[i].flush,
            status_optime: self.status_optime,
            from_branch: self.servers[i].branch,
            branch,
        });
        let s = &mut self.servers[i];
        s.branch = branch;
        s.history.push((s.timeline, s.flush));
        let mut newest = s.timeline;
        while s.claimed.contains(&(newest + 1)) {
            newest += 1;
        }
        s.timeline = newest + 1;
        s.in_recovery = false;
        s.standby = false;
        s.was_primary = true;
        s.streaming_from = None;
    }

    /// A copy of `from`'s data directory in `i`'s.
    pub fn basebackup(&mut self, i: usize, from: usize) -> bool {
        let source = self.servers[from].clone();
        if !source.running || !self.linked(i, from) {
            return false;
        }
        self.servers[i] = Server {
            initialized: true,
            sysid: source.sysid,
            timeline: source.timeline,
            history: source.history,
            flush: source.flush,
            branch: source.branch,
            ..Server::default()
        };
        true
    }

    /// pg_rewind of `i` from `source`: back to where their histories part, then on the
    /// source's timeline.
    pub fn rewind(&mut self, i: usize, from: usize) -> bool {
        let source = self.servers[from].clone();
        if !source.running || !self.linked(i, from) || self.servers[i].running {
            return false;
        }
        let needed = !source.can_feed(&self.servers[i]);
        if !needed && self.servers[i].stopped_as_standby {
            self.needless_rewinds.push(format!(
                "node{} was rewound at {} ms though its WAL continued the source's (a healthy standby stopped for nothing)",
                i + 1,
                self.now_ms
            ));
        }
        self.rewinds += 1;
        if needed && self.servers[i].left_primary {
            self.former_primaries_rewound += 1;
        }
        let s = &mut self.servers[i];
        s.left_primary = false;
        let fork = common_point(s, &source);
        s.flush = s.flush.min(fork);
        s.claimed.clear();
        s.timeline = source.timeline;
        s.history = source.history;
        s.branch = source.branch;
        s.clean = true;
        true
    }

    /// One step: standbys stream, fences whose moment passed stop their servers.
    pub fn step(&mut self, monotonic_ms: u64) {
        for i in 0..self.servers.len() {
            if let Some(deadline) = self.servers[i].fence_deadline
                && deadline <= monotonic_ms
                && self.servers[i].running
            {
                self.fenced += 1;
                self.stop(i, false);
            }
        }
        for i in 0..self.servers.len() {
            let s = &self.servers[i];
            let source = match (s.running && s.in_recovery, s.upstream) {
                (true, Some(u)) if u != i && self.linked(i, u) => u,
                _ => {
                    self.servers[i].streaming_from = None;
                    continue;
                }
            };
            let upstream = self.servers[source].clone();
            if upstream.running && upstream.can_feed(&self.servers[i]) {
                let s = &mut self.servers[i];
                if s.left_primary && s.branch != upstream.branch {
                    self.former_primaries_followed += 1;
                }
                s.left_primary = false;
                s.flush = s.flush.max(upstream.flush);
                s.timeline = upstream.timeline;
                s.history = upstream.history.clone();
                s.branch = upstream.branch;
                s.streaming_from = Some(source);
            } else {
                self.servers[i].streaming_from = None;
            }
        }
    }

    /// A client write to every server that accepts writes (more than one is the oracle's
    /// business).
    pub fn write(&mut self, at_ms: u64) {
        for i in 0..self.servers.len() {
            let s = &mut self.servers[i];
            if s.writable() {
                s.flush += WRITE_BYTES;
                let ack = Ack {
                    node: i,
                    branch: s.branch,
                    timeline: s.timeline,
                    lsn: s.flush,
                    at_ms,
                };
                self.acks.push(ack);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Node 0 a new primary, node 1 its standby (not streaming until the first step).
    fn primary_and_standby() -> Shared {
        let world = World::new(2, 1);
        {
            let mut w = lock(&world);
            w.initdb(0);
            w.start(0);
            assert!(w.basebackup(1, 0));
            w.servers[1].standby = true;
            w.servers[1].upstream = Some(0);
            w.start(1);
        }
        world
    }

    #[test]
    fn a_standby_streams_until_it_diverges_and_streams_again_once_rewound() {
        let world = primary_and_standby();
        let mut w = lock(&world);
        w.write(0);
        w.step(0);
        assert_eq!(w.servers[1].flush, w.servers[0].flush);
        // Node 1 is promoted while node 0 writes on: node 0 diverged from timeline 2.
        w.promote(1);
        w.write(1);
        w.stop(0, false);
        w.servers[0].standby = true;
        w.servers[0].upstream = Some(1);
        w.start(0);
        w.step(2);
        assert_eq!(w.servers[0].streaming_from, None, "diverged");
        w.stop(0, true);
        assert!(w.rewind(0, 1));
        w.start(0);
        w.step(3);
        assert_eq!(w.servers[0].streaming_from, Some(1));
        assert_eq!(w.servers[0].timeline, 2);
        assert_eq!(
            (w.former_primaries_rewound, w.former_primaries_followed),
            (1, 0)
        );
    }

    #[test]
    fn a_former_primary_stopped_at_the_fork_follows_without_a_rewind() {
        let world = primary_and_standby();
        let mut w = lock(&world);
        w.write(0);
        w.step(0);
        w.stop(0, true);
        w.promote(1);
        w.servers[0].standby = true;
        w.servers[0].upstream = Some(1);
        w.start(0);
        w.step(1);
        assert_eq!(w.servers[0].streaming_from, Some(1));
        assert_eq!(
            (w.former_primaries_rewound, w.former_primaries_followed),
            (0, 1)
        );
    }

    #[test]
    fn a_rewind_of_a_standby_that_could_stream_is_recorded_as_needless() {
        let world = primary_and_standby();
        let mut w = lock(&world);
        w.step(0);
        w.stop(1, true);
        assert!(w.rewind(1, 0));
        assert_eq!(w.needless_rewinds.len(), 1, "{:?}", w.needless_rewinds);
        // A former primary past the fork point needs it.
        w.start(1);
        w.step(1);
        w.promote(1);
        w.write(2);
        w.stop(0, false);
        assert!(!w.servers[1].can_feed(&w.servers[0]));
        assert!(w.rewind(0, 1));
        assert_eq!((w.rewinds, w.needless_rewinds.len()), (2, 1));
    }
}
