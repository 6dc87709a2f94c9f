//! The HTTP server (hyper, HTTP/1.1 with keep-alive, optional TLS). Health checks and GET
//! endpoints are answered from the latest published [`NodeState`]; mutating requests are checked
//! ([`Access`]), parsed ([`requests`](crate::requests)) and handed to the agent ([`Control`]).
//!
//! A slow or broken client costs one task and nothing else: request headers must arrive within
//! 10 s, a body within 10 s and under 1 MiB, a TLS handshake within 10 s.

use crate::access::SharedAccess;
use crate::cluster_view::{cluster_body, config_body, history_body};
use crate::control::{Command, Control, Reply};
use crate::health::{Method, status_code};
use crate::live::{LivePositions, refreshed};
use crate::members::MemberAddresses;
use crate::requests::{self, Body};
use crate::state::NodeState;
use crate::status::status_json;
use crate::tls::VerifyClient;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_LIMIT: usize = 1 << 20;

/// Binds `listen` (`host:port`; `*` and an empty host mean every address).
pub async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8008"));
    let host = match host.trim() {
        "" | "*" => "0.0.0.0",
        h => h.trim_start_matches('[').trim_end_matches(']'),
    };
    TcpListener::bind((host, port.trim().parse::<u16>().unwrap_or(8008))).await
}

/// The mutating requests served (method, first path segment); other non-GET requests get 501.
pub const MUTATING: &[(&str, &str)] = &[
    ("POST", "switchover"),
    ("POST", "failover"),
    ("POST", "restart"),
    ("POST", "reload"),
    ("POST", "reinitialize"),
    ("POST", "failsafe"),
    ("PATCH", "config"),
    ("PUT", "config"),
    ("DELETE", "restart"),
    ("DELETE", "switchover"),
];

/// Everything the API answers from.
pub struct Api {
    pub state: watch::Receiver<Arc<NodeState>>,
    pub control: Control,
    /// Replaced in place when the configuration is reloaded.
    pub access: SharedAccess,
    /// `http_extra_headers`, and `https_extra_headers` too when serving TLS.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Where failsafe calls are recorded for the agent.
    pub failsafe: crate::control::FailsafeCalls,
    /// Fresh WAL positions for `GET /patroni` ([`crate::live`]); `None`: the published ones.
    pub live: Option<Arc<dyn LivePositions>>,
}

/// TLS for [`serve`].
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub verify: VerifyClient,
}

/// The connection a request came on.
#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    /// Client certificates are asked for (`verify_client` optional or required) but none came.
    missing_client_cert: bool,
}

/// Parses `http_extra_headers`-style maps; errors name the header.
pub fn extra_headers<'a>(
    maps: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    maps.into_iter()
        .map(|(k, v)| {
            let name = HeaderName::try_from(k.as_str())
                .map_err(|e| format!("restapi.http_extra_headers: {k:?}: {e}"))?;
            let value = HeaderValue::try_from(v.as_str())
                .map_err(|e| format!("restapi.http_extra_headers: {k}: {e}"))?;
            Ok((name, value))
        })
        .collect()
}

fn response(code: u16, content_type: Option<&'static str>, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if let Some(t) = content_type {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(t));
    }
    r
}

fn reply(r: Reply) -> Response<Full<Bytes>> {
    let content_type = if r.json {
        "application/json"
    } else {
        "text/html"
    };
    response(r.code, Some(content_type), Bytes::from(r.body))
}

/// GET, HEAD and OPTIONS: health checks and the read-only endpoints.
fn read_only(method: Method, path: &str, query: &str, node: &NodeState) -> Response<Full<Bytes>> {
    let first = path.split('/').next().unwrap_or("");
    if method == Method::Get && first == "metrics" {
        return response(
            200,
            Some("text/plain"),
            crate::metrics::metrics(node).into(),
        );
    }
    let code = status_code(method, first, query, node);
    // Liveness and readiness answer with a status line only, like Patroni.
    let with_body = method == Method::Get && !matches!(first, "liveness" | "readiness");
    let body = match (first, node.cluster.as_ref()) {
        ("cluster", Some(c)) => Some(cluster_body(c, &node.scope)),
        ("history", Some(c)) => Some(history_body(c)),
        ("config", Some(c)) => config_body(c),
        ("failsafe", Some(c)) if code == 200 => c
            .failsafe
            .as_ref()
            .map(|f| crate::json::python_json(&serde_json::Value::Object(f.clone()))),
        ("cluster" | "history" | "config" | "failsafe", _) => None,
        _ => Some(status_json(node)),
    };
    match (with_body, body) {
        (true, Some(body)) => response(code, Some("application/json"), body.into()),
        _ => response(code, None, Bytes::new()),
    }
}

/// Reads a request body within the size and time limits.
async fn read_body(body: Incoming) -> Result<Bytes, Reply> {
    match tokio::time::timeout(CLIENT_TIMEOUT, Limited::new(body, BODY_LIMIT).collect()).await {
        Err(_) => Err(Reply::text(
            408,
            "Request Timeout: the body did not arrive in time",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(Reply::text(
            413,
            "Payload Too Large: request bodies are limited to 1 MiB",
        )),
        Ok(Err(e)) => Err(Reply::text(400, format!("Bad Request: {e}"))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// An [`Api`] being served, with what the server keeps up to date for it.
struct Served {
    api: Api,
    members: MemberAddresses,
}

async fn handle(
    served: Arc<Served>,
    peer: Peer,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let api = &served.api;
    let path = request.uri().path().trim_start_matches('/').to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let node = api.state.borrow().clone();
    let method = request.method().as_str().to_string();
    let read = match method.as_str() {
        "GET" => Some(Method::Get),
        "HEAD" => Some(Method::Head),
        "OPTIONS" => Some(Method::Options),
        _ => None,
    };
    if let Some(m) = read {
        if m == Method::Get
            && path == "patroni"
            && let Some(live) = &api.live
            && let Some(fresh) = refreshed(&node, live.as_ref()).await
        {
            return read_only(m, &path, &query, &fresh);
        }
        return read_only(m, &path, &query, &node);
    }
    let first = path.split('/').next().unwrap_or("").to_string();
    let known = MUTATING
        .iter()
        .any(|(m, p)| *m == method.as_str() && *p == first.as_str());
    if !known {
        return response(
            501,
            Some("text/html"),
            Bytes::from(format!("Unsupported method ({method:?}) for /{first}")),
        );
    }
    if peer.missing_client_cert {
        return reply(Reply::text(403, "client certificate required"));
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let members = (first != "failsafe").then(|| served.members.current());
    if let Err(denied) = api.access.current().check(
        peer.addr.ip(),
        authorization.as_deref(),
        members.as_deref().map(Vec::as_slice),
    ) {
        let mut r = reply(Reply::text(denied.code, denied.reason));
        if denied.code == 401 {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Patroni\""),
            );
        }
        return r;
    }
    let length_given = request.headers().contains_key(header::CONTENT_LENGTH);
    let bytes = match read_body(request.into_body()).await {
        Ok(b) => b,
        Err(r) => return reply(r),
    };
    let body = Body {
        length_given,
        bytes: &bytes,
    };
    let control = &api.control;
    let answer = match (method.as_str(), first.as_str()) {
        ("POST", "switchover") => requests::failover(control, &api.state, "switchover", body).await,
        ("POST", "failover") => requests::failover(control, &api.state, "failover", body).await,
        ("POST", "restart") => requests::restart(control, &node, body).await,
        ("POST", "reload") => control.ask(Command::Reload).await,
        ("POST", "reinitialize") => requests::reinitialize(control, &node, body).await,
        ("PATCH", "config") => requests::config(control, false, body).await,
        ("PUT", "config") => requests::config(control, true, body).await,
        ("DELETE", "restart") => control.ask(Command::CancelRestart).await,
        ("DELETE", "switchover") => control.ask(Command::CancelSwitchover).await,
        ("POST", "failsafe") => requests::failsafe(&api.failsafe, &node, body),
        _ => Reply::text(501, "Unsupported method"),
    };
    reply(answer)
}

/// Serves the API on `listener` until the task is dropped. Each connection is its own task.
pub async fn serve(listener: TcpListener, api: Api, tls: Option<Tls>) -> std::io::Result<()> {
    let members = MemberAddresses::follow(api.state.clone(), api.access.clone());
    let api = Arc::new(Served { api, members });
    let tls = tls.map(Arc::new);
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!("REST API accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let peer = Peer {
                        addr,
                        missing_client_cert: false,
                    };
                    serve_connection(stream, api, peer).await;
                }
                Some(tls) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(CLIENT_TIMEOUT, tls.acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let has_cert = stream.get_ref().1.peer_certificates().is_some();
                    let peer = Peer {
                        addr,
                        missing_client_cert: tls.verify != VerifyClient::None && !has_cert,
                    };
                    serve_connection(stream, api, peer).await;
                }
            }
        });
    }
}

/// Answers the requests of one connection (keep-alive) until the client closes it.
async fn serve_connection<I>(io: I, api: Arc<Served>, peer: Peer)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let api = api.clone();
        async move {
            let mut response = handle(api.clone(), peer, request).await;
            for (name, value) in &api.api.headers {
                response.headers_mut().insert(name.clone(), value.clone());
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_TIMEOUT);
    let _ = builder.serve_connection(TokioIo::new(io), service).await;
}
