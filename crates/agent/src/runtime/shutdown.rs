//! Stopping on purpose (SIGTERM, SIGINT): the REST API says "stopping" first (Patroni closes its
//! API here: either way no health check routes to this node, and no member racing for the lock
//! counts a server being stopped as a live primary), PostgreSQL stopped fast, the stop
//! published, the lock released with the shutdown checkpoint in `/status`. Paused, PostgreSQL
//! and the lock are not touched.

use super::{Runtime, status};
use crate::member;
use ferroni_ha::callbacks::Change;
use std::sync::Arc;
use std::time::Duration;

impl Runtime {
    /// SIGTERM: stop PostgreSQL (fast), release the lock if ours, publish the stop, exit 0.
    pub(super) async fn shutdown(&mut self) -> i32 {
        tracing::info!("received a signal to shut down");
        // Stopping on purpose: PostgreSQL is stopped below (or, paused, left to the operator).
        self.fence.disarm();
        self.watchdog.disable();
        self.tasks.cancel();
        let plan = ferroni_ha::stopping::shutdown(self.dynamic.pause);
        if let Some(note) = plan.note {
            tracing::info!("{note}");
        }
        let Some(stop) = plan.stop else {
            return 0;
        };
        self.state.send_modify(|s| {
            let s = Arc::make_mut(s);
            s.holds_lock = false;
            s.pg.state = "stopping".into();
        });
        let stopped = Some(Change::Stopped { demote: None });
        let stop = self.callbacks.stop(
            self.pg.as_ref(),
            super::execute::stop_mode(stop),
            Duration::from_secs(120),
            stopped,
        );
        match stop.await {
            Ok(()) => {
                // Publish the stop before releasing the lock, so no replica waits for a primary
                // its member key still calls running.
                let stopped = member::stopped(&self.loaded.config, self.last_role);
                if let Err(e) = self.dcs.touch_member(&stopped).await {
                    tracing::warn!("failed to update member key: {e}");
                }
                if plan.release_lock
                    && let Ok(cluster) = self.dcs.get_cluster().await
                    && cluster.leader_name() == Some(self.me.name.as_str())
                {
                    let last = cluster.status.as_ref();
                    match status::release(self.dcs.as_ref(), self.pg.as_ref(), last).await {
                        Ok(_) => tracing::info!("Leader key released"),
                        Err(e) => tracing::error!("could not release the leader key: {e}"),
                    }
                }
            }
            Err(e) => tracing::error!("PostgreSQL shutdown failed, leader key not removed: {e}"),
        }
        self.callbacks.flush().await;
        0
    }
}
