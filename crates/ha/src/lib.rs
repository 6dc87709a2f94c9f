//! ferroni-ha will own `decide()`: the pure, synchronous HA decision from (cluster view, local
//! PostgreSQL state, configuration, now, memo) to actions plus the log line that explains them, one
//! module per duty (leader race, leader duty, follower, recovery, manual operations, sync, failsafe,
//! pause, bootstrap, standby cluster). No I/O, no clock, no tokio.
//!
//! It is empty until the HA engine issue (#4) fills it.
