//! ferroni-api will own the REST API: Patroni's endpoints, status codes and JSON, served from the
//! state the agent publishes each cycle, and `/metrics` under Patroni's metric names.
//!
//! It is empty until the REST API issue (#5) fills it.
