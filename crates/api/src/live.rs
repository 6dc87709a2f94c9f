//! Fresh WAL positions for `GET /patroni`. Health checks answer from the published state (they
//! are polled thousands of times a second), but `/patroni` is what the other members read in a
//! leader race to decide who is ahead: a position one `loop_wait` old could let the member that
//! is behind win. Patroni queries PostgreSQL for every `/patroni`; so does Ferroni, for that
//! endpoint only, and falls back to the published state when the query does not answer in time.

use crate::state::NodeState;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long a `/patroni` waits for PostgreSQL before it answers from the published state.
pub const LIVE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the server is in its WAL, as asked just now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positions {
    pub in_recovery: bool,
    pub timeline: u64,
    /// Primary: the flush position.
    pub location: u64,
    /// Replica: received and replayed positions.
    pub received: Option<u64>,
    pub replayed: Option<u64>,
}

/// The future [`LivePositions::read`] returns.
pub type PositionsFuture<'a> = Pin<Box<dyn Future<Output = Option<Positions>> + Send + 'a>>;

/// Asks the local PostgreSQL where it is (`None`: it did not answer).
pub trait LivePositions: Send + Sync {
    fn read(&self) -> PositionsFuture<'_>;
}

/// The published state with the positions (and the role they imply) replaced by fresh ones.
/// Only a server published as running is asked: a stopped one stays stopped.
pub async fn refreshed(node: &NodeState, live: &dyn LivePositions) -> Option<NodeState> {
    if node.pg.state != "running" {
        return None;
    }
    let p = tokio::time::timeout(LIVE_TIMEOUT, live.read())
        .await
        .ok()
        .flatten()?;
    Some(overlay(node, &p))
}

fn overlay(node: &NodeState, p: &Positions) -> NodeState {
    let mut fresh = node.clone();
    let pg = &mut fresh.pg;
    pg.timeline = Some(p.timeline);
    if p.in_recovery {
        if pg.role == "primary" {
            pg.role = "replica".into();
        }
        pg.location = None;
        pg.received_location = p.received;
        pg.replayed_location = p.replayed;
    } else {
        // Promoted since the last cycle: its position is now a primary's.
        pg.role = "primary".into();
        pg.location = Some(p.location);
        pg.received_location = None;
        pg.replayed_location = None;
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Option<Positions>);

    impl LivePositions for Fixed {
        fn read(&self) -> PositionsFuture<'_> {
            let p = self.0.clone();
            Box::pin(async move { p })
        }
    }

    fn replica() -> NodeState {
        let mut n = NodeState::default();
        n.pg.state = "running".into();
        n.pg.role = "replica".into();
        n.pg.received_location = Some(100);
        n.pg.replayed_location = Some(90);
        n.pg.timeline = Some(1);
        n
    }

    #[tokio::test]
    async fn a_running_replica_answers_with_the_positions_asked_now() {
        let live = Fixed(Some(Positions {
            in_recovery: true,
            timeline: 1,
            location: 0,
            received: Some(500),
            replayed: Some(400),
        }));
        let fresh = refreshed(&replica(), &live).await.expect("refreshed");
        assert_eq!(fresh.pg.received_location, Some(500));
        assert_eq!(fresh.pg.replayed_location, Some(400));
        assert_eq!(fresh.pg.role, "replica");
    }

    #[tokio::test]
    async fn a_replica_promoted_since_the_last_cycle_reports_a_primary_position() {
        let live = Fixed(Some(Positions {
            in_recovery: false,
            timeline: 2,
            location: 700,
            received: None,
            replayed: None,
        }));
        let fresh = refreshed(&replica(), &live).await.expect("refreshed");
        assert_eq!(fresh.pg.role, "primary");
        assert_eq!(fresh.pg.location, Some(700));
        assert_eq!(fresh.pg.received_location, None);
        assert_eq!(fresh.pg.timeline, Some(2));
    }

    #[tokio::test]
    async fn no_answer_or_a_stopped_server_keeps_the_published_state() {
        assert_eq!(refreshed(&replica(), &Fixed(None)).await, None);
        let mut stopped = replica();
        stopped.pg.state = "stopped".into();
        let live = Fixed(Some(Positions {
            in_recovery: false,
            timeline: 2,
            location: 1,
            received: None,
            replayed: None,
        }));
        assert_eq!(refreshed(&stopped, &live).await, None);
    }
}
