//! The HTTP server: every request is answered from the latest published [`NodeState`].

use crate::cluster_view::{cluster_body, config_body, history_body};
use crate::health::{Method, status_code};
use crate::state::NodeState;
use crate::status::status_json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Binds `listen` (`host:port`; `*` and an empty host mean every address).
pub async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8008"));
    let host = match host.trim() {
        "" | "*" => "0.0.0.0",
        h => h.trim_start_matches('[').trim_end_matches(']'),
    };
    TcpListener::bind((host, port.trim().parse::<u16>().unwrap_or(8008))).await
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
}

async fn handle(State(state): State<watch::Receiver<NodeState>>, request: Request) -> Response {
    let method = match request.method().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        _ => {
            let mut r = Response::new(Body::from("Unsupported method"));
            *r.status_mut() = StatusCode::NOT_IMPLEMENTED;
            return r;
        }
    };
    let uri = request.uri();
    let path = uri.path().trim_start_matches('/');
    let first = path.split('/').next().unwrap_or("");
    let node = state.borrow().clone();
    let code = status_code(method, first, uri.query().unwrap_or(""), &node);
    // Liveness and readiness answer with a status line only, like Patroni.
    let with_body = method == Method::Get && !matches!(first, "liveness" | "readiness");
    if method == Method::Get && first == "metrics" {
        let mut r = Response::new(Body::from(crate::metrics::metrics(&node)));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return r;
    }
    let body = match (first, node.cluster.as_ref()) {
        ("cluster", Some(c)) => Some(cluster_body(c, &node.scope)),
        ("history", Some(c)) => Some(history_body(c)),
        ("config", Some(c)) => config_body(c),
        ("cluster" | "history" | "config", None) => None,
        _ => Some(status_json(&node)),
    };
    let mut response = if let (true, Some(body)) = (with_body, body) {
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    } else {
        Response::new(Body::empty())
    };
    *response.status_mut() = status(code);
    response
}

/// Serves the API on `listener`, answering from `state`, until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    state: watch::Receiver<NodeState>,
) -> std::io::Result<()> {
    let app = Router::new().fallback(handle).with_state(state);
    axum::serve(listener, app).await
}
