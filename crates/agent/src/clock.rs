//! The clocks the agent reads, injected so the simulator can run agents on simulated time.
//! Timers and timeouts use tokio's clock, which the simulator pauses and advances itself; these
//! are the two readings tokio does not give: the system-wide monotonic clock the fence guard
//! shares with the agent, and the wall clock of published timestamps and scheduled restarts.

/// The agent's two clocks.
pub trait Clock: Send + Sync {
    /// Milliseconds on the system-wide monotonic clock (`CLOCK_MONOTONIC`), the fence guard's.
    fn monotonic_ms(&self) -> u64;

    /// Milliseconds since the Unix epoch.
    fn unix_ms(&self) -> i64;

    /// Seconds since the Unix epoch.
    fn unix_secs(&self) -> u64 {
        u64::try_from(self.unix_ms() / 1000).unwrap_or(0)
    }
}

/// The real clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn monotonic_ms(&self) -> u64 {
        crate::fence::monotonic_ms()
    }

    fn unix_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}
