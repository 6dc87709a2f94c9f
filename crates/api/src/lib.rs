//! ferroni-api owns the REST API: Patroni's endpoints, status codes and JSON, answered from the
//! state the agent publishes each cycle (never a SQL or DCS request per probe).
//!
//! - [`state`]: [`NodeState`], what the agent publishes.
//! - [`health`]: the status code of every health check (pure).
//! - [`status`]: the `/patroni` JSON.
//! - [`cluster_view`]: `/cluster`, `/history`, `/config` from the DCS view.
//! - [`json`]: Python's `json.dumps` separators.
//! - [`metrics`]: `/metrics` with Patroni's metric names.
//! - [`server`]: the HTTP server (axum).
//!
//! Today: the health checks (`/`, `/primary`, `/leader`, `/replica`, `/read-only`, `/health`,
//! `/sync`, `/quorum`, `/async`, … with `lag`, `replication_state`, `tag_*`), `/liveness`,
//! `/readiness`, `/patroni`, `/cluster`, `/history`, `/config` and `/metrics`. `/failsafe` and the
//! mutating endpoints arrive with the rest of issue #5.

pub mod cluster_view;
pub mod health;
pub mod json;
pub mod metrics;
pub mod server;
pub mod state;
pub mod status;

pub use server::{bind, serve};
pub use state::{NodeState, PgStatus, ReplicationRow};
