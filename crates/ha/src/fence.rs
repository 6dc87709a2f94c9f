//! When the frozen-agent fence must stop PostgreSQL (docs/ha.md "Safety"): after a cycle that
//! proved the lock, by `ttl − margin` from the moment that proof began, so the old primary is
//! down before the lease can expire and a replica be promoted. Pure; the agent applies it.

use crate::Millis;

/// What the cycle tells the fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceOrder {
    /// PostgreSQL must be down by this moment (monotonic ms) unless armed again before.
    Arm { deadline: Millis },
    /// No deadline: paused (the operator is in control), or no primary and no proven lock.
    Disarm,
    /// The last deadline stands (a primary that could not prove its lock this cycle).
    Keep,
}

/// The cycle as the fence sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FenceInput {
    /// When this cycle's successful lock renewal, acquisition or failsafe round began.
    pub proven_at: Option<Millis>,
    /// The shortest ttl seen (ms): a lease granted before a ttl increase still carries it.
    pub ttl: Millis,
    pub paused: bool,
    /// A primary runs here.
    pub primary: bool,
}

/// The margin kept before the lease's end: a quarter of the ttl, at most 2 s.
pub fn margin(ttl: Millis) -> Millis {
    (ttl / 4).min(2000)
}

/// Whether a lock renewal asked at `asked` and answered at `answered` proves the lock: not once
/// the deadline it would arm has passed. The agent was frozen or the DCS slow in between, the
/// fence may already have stopped PostgreSQL, and the lease may have expired and a replica been
/// promoted: acting on such an answer (starting a primary) could make two.
pub fn renewal_proves_lock(asked: Millis, answered: Millis, ttl: Millis) -> bool {
    answered < asked + ttl - margin(ttl)
}

/// The order for this cycle.
pub fn order(input: FenceInput) -> FenceOrder {
    match input.proven_at {
        _ if input.paused => FenceOrder::Disarm,
        Some(at) => FenceOrder::Arm {
            deadline: at + input.ttl - margin(input.ttl),
        },
        None if !input.primary => FenceOrder::Disarm,
        None => FenceOrder::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(proven_at: Option<Millis>, ttl: Millis, paused: bool, primary: bool) -> FenceOrder {
        order(FenceInput {
            proven_at,
            ttl,
            paused,
            primary,
        })
    }

    #[test]
    fn a_renewal_answered_after_its_deadline_proves_nothing() {
        assert!(renewal_proves_lock(1_000, 1_200, 4_000));
        // ttl 4 s, margin 1 s: the deadline is 3 s after the ask.
        assert!(renewal_proves_lock(1_000, 3_999, 4_000));
        assert!(!renewal_proves_lock(1_000, 4_000, 4_000));
        // Frozen for 10 s between the ask and the answer.
        assert!(!renewal_proves_lock(1_000, 11_000, 4_000));
    }

    #[test]
    fn a_proven_lock_arms_before_the_lease_can_end() {
        // ttl 30 s: 2 s margin; ttl 4 s: 1 s.
        assert_eq!(
            cycle(Some(10_000), 30_000, false, true),
            FenceOrder::Arm { deadline: 38_000 }
        );
        assert_eq!(
            cycle(Some(10_000), 4_000, false, true),
            FenceOrder::Arm { deadline: 13_000 }
        );
        for ttl in [4_000, 5_000, 20_000, 30_000, 600_000] {
            let FenceOrder::Arm { deadline } = cycle(Some(0), ttl, false, true) else {
                panic!("not armed at ttl {ttl}");
            };
            assert!(
                deadline < ttl && ttl - deadline >= 1000,
                "ttl {ttl}: {deadline}"
            );
        }
    }

    #[test]
    fn paused_or_not_leading_disarms_and_an_unproven_primary_keeps_its_deadline() {
        assert_eq!(cycle(Some(1), 30_000, true, true), FenceOrder::Disarm);
        assert_eq!(cycle(None, 30_000, false, false), FenceOrder::Disarm);
        assert_eq!(cycle(None, 30_000, false, true), FenceOrder::Keep);
        // A replica that just acquired the lock is armed before it promotes.
        assert!(matches!(
            cycle(Some(5), 30_000, false, false),
            FenceOrder::Arm { .. }
        ));
    }
}
