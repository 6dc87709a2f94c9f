//! Retrying a DCS request within a deadline (`retry_timeout`), as Patroni's `Retry` does: only
//! unreachable/timeout failures are retried, with a delay that doubles up to one second.

use crate::DcsError;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Runs `op` until it succeeds, fails in a way a retry cannot fix, or `deadline` passes. Each
/// attempt gets at most the time left.
pub async fn retry<T, F, Fut>(deadline: Duration, mut op: F) -> Result<T, DcsError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, DcsError>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        let left = deadline.saturating_sub(start.elapsed());
        let attempt = match tokio::time::timeout(left, op(left)).await {
            Ok(result) => result,
            Err(_) => Err(DcsError::Timeout(deadline)),
        };
        match attempt {
            Err(e) if e.is_retriable() => {
                let left = deadline.saturating_sub(start.elapsed());
                if left.is_zero() {
                    return Err(e);
                }
                tokio::time::sleep(delay.min(left)).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_unreachable_until_success() {
        let mut calls = 0;
        let v = retry(Duration::from_secs(5), |_| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(DcsError::Unreachable("down".into()))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(v, Ok(3));
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_a_conflict_and_gives_up_at_the_deadline() {
        let mut calls = 0;
        let v: Result<(), _> = retry(Duration::from_secs(5), |_| {
            calls += 1;
            async { Err(DcsError::Conflict("/k".into())) }
        })
        .await;
        assert_eq!((v, calls), (Err(DcsError::Conflict("/k".into())), 1));
        let start = Instant::now();
        let v: Result<(), _> = retry(Duration::from_secs(3), |_| async {
            Err(DcsError::Unreachable("down".into()))
        })
        .await;
        assert!(v.is_err());
        assert!(start.elapsed() <= Duration::from_secs(3));
    }
}
