//! ferroni-api owns the REST API: Patroni's endpoints, status codes and JSON, served from the
//! state the agent publishes each cycle.
//!
//! Today it serves `GET /liveness` only — what another agent with the same name asks before it
//! starts (Patroni's unique-name check). The other endpoints arrive with issue #5.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;

/// The routes served today.
pub fn router() -> Router {
    Router::new().route("/liveness", get(|| async { StatusCode::OK }))
}

/// Binds `listen` (`host:port`; `*` and an empty host mean every address).
pub async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8008"));
    let host = match host.trim() {
        "" | "*" => "0.0.0.0",
        h => h.trim_start_matches('[').trim_end_matches(']'),
    };
    TcpListener::bind((host, port.trim().parse::<u16>().unwrap_or(8008))).await
}

/// Serves the API on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router()).await
}
