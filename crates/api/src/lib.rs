//! ferroni-api owns the REST API: Patroni's endpoints, status codes and JSON, answered from the
//! state the agent publishes each cycle (never a SQL or DCS request per health check; `/patroni`
//! alone asks PostgreSQL for its WAL positions, see [`live`]).
//!
//! - [`state`]: [`NodeState`], what the agent publishes.
//! - [`health`]: the status code of every health check (pure).
//! - [`status`]: the `/patroni` JSON.
//! - [`cluster_view`]: `/cluster`, `/history`, `/config` from the DCS view.
//! - [`json`]: Python's `json.dumps` separators.
//! - [`live`]: fresh WAL positions for `/patroni`, which peers read in a leader race.
//! - [`metrics`]: `/metrics` with Patroni's metric names.
//! - [`access`]: the allowlist and Basic authentication of mutating requests.
//! - [`members`]: the members' API addresses, resolved off the request path.
//! - [`control`]: the typed requests the API hands to the agent, and its replies.
//! - [`requests`]: the mutating endpoints — parsing and checks with Patroni's codes.
//! - [`tls`]: HTTPS with rustls.
//! - [`trust`]: which certificates both ends of the REST API's TLS accept, and its clients' TLS.
//! - [`server`]: the HTTP server (hyper).
//!
pub mod access;
pub mod cluster_view;
pub mod control;
pub mod health;
pub mod json;
pub mod live;
pub mod members;
pub mod metrics;
pub mod requests;
pub mod server;
pub mod state;
pub mod status;
pub mod tls;
pub mod trust;

pub use access::{Access, SharedAccess};
pub use control::{Command, Commands, Control, FailsafeCall, FailsafeCalls, Reply, RestartRequest};
pub use live::{LivePositions, Positions, PositionsFuture};
pub use server::{Api, Tls, bind, extra_headers, serve};
pub use state::{NodeState, PgStatus, ReplicationRow};
