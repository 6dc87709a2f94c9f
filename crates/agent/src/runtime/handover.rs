//! A switchover's former primary, back as a replica at once: it streams from the candidate as
//! soon as the candidate holds the lock, as Patroni's demotion looks for the new leader (it gives
//! it 2 s) before starting PostgreSQL again. Without one yet it starts without a primary, and the
//! next cycle's Follow points it at whoever leads by then.

use super::upstream_of;
use ferroni_dcs::Dcs;
use ferroni_pg::local::Upstream;
use std::time::Duration;
use tokio::time::Instant;

/// How long the candidate gets to take the lock.
const WAIT: Duration = Duration::from_secs(2);
/// How often the lock is looked at meanwhile.
const POLL: Duration = Duration::from_millis(100);

/// The leader other than `me`, once it holds the lock within [`WAIT`].
pub(super) async fn new_leader(dcs: &dyn Dcs, me: &str) -> Option<Upstream> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(cluster) = dcs.get_cluster().await
            && let Some(leader) = cluster.leader_name().filter(|l| *l != me)
            && let Some(upstream) = upstream_of(&cluster, leader)
        {
            return Some(upstream);
        }
        if Instant::now() + POLL > deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}
