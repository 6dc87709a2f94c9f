//! Waiting on a condition with a deadline, never a fixed sleep.

use anyhow::{Result, bail};
use std::time::{Duration, Instant};

/// Polls `probe` until it returns `Some`, or fails after `deadline` naming `what` was awaited.
/// The poll interval starts at 5 ms and doubles up to 100 ms, so fast conditions return fast.
pub fn wait_until<T>(
    deadline: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = probe() {
            return Ok(value);
        }
        let elapsed = start.elapsed();
        if elapsed >= deadline {
            bail!("timed out after {:.1?} waiting for {what}", elapsed);
        }
        std::thread::sleep(pause.min(deadline - elapsed));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// [`wait_until`] for async probes.
pub async fn wait_until_async<T, F, Fut>(deadline: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        let elapsed = start.elapsed();
        if elapsed >= deadline {
            bail!("timed out after {:.1?} waiting for {what}", elapsed);
        }
        tokio::time::sleep(pause.min(deadline - elapsed)).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_probe_value_once_ready() {
        let mut calls = 0;
        let v = wait_until(Duration::from_secs(5), "three calls", || {
            calls += 1;
            (calls == 3).then_some(calls)
        })
        .unwrap();
        assert_eq!(v, 3);
    }

    #[test]
    fn fails_after_the_deadline_naming_the_condition() {
        let start = Instant::now();
        let err = wait_until(Duration::from_millis(50), "never", || None::<()>).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(err.to_string().contains("waiting for never"));
    }
}
