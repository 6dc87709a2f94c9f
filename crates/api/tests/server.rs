//! The REST API server on a loopback port, as clients reach it: extra headers, the allowlist,
//! body limits, unknown methods, and HTTPS with and without client certificates (certificates
//! made with the `openssl` command).

use ferroni_api::tls::{TlsFiles, acceptor};
use ferroni_api::{Access, Api, Control, NodeState, Tls, bind, extra_headers, serve};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

fn node() -> NodeState {
    NodeState {
        name: "node1".into(),
        scope: "demo".into(),
        version: "0.1.0".into(),
        ..NodeState::default()
    }
}

/// Starts a server; the agent's end of the control channel is dropped, so a request that gets
/// past the checks is answered 503 "the agent is shutting down".
async fn start(access: Access, headers: BTreeMap<String, String>, tls: Option<Tls>) -> u16 {
    let listener = bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (control, commands) = Control::channel();
    drop(commands);
    let (_tx, state) = tokio::sync::watch::channel(Arc::new(node()));
    let api = Api {
        state,
        control,
        access: access.into(),
        headers: extra_headers(&headers).unwrap(),
        failsafe: Default::default(),
        live: None,
    };
    tokio::spawn(async move {
        let _keep = _tx;
        serve(listener, api, tls).await
    });
    port
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn headers_allowlist_limits_and_methods() {
    let headers = BTreeMap::from([("X-Frame-Options".to_string(), "SAMEORIGIN".to_string())]);
    let access = Access::new(None, &["10.0.0.0/8".into()], false).unwrap();
    let port = start(access, headers, None).await;
    let base = format!("http://127.0.0.1:{port}");
    let r = client()
        .get(format!("{base}/patroni"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "SAMEORIGIN");
    assert_eq!(r.headers()["content-type"], "application/json");
    // GET is never checked; POST from 127.0.0.1 is not in the allowlist.
    let r = client()
        .post(format!("{base}/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), "Access is denied");
    // Unknown method or path: 501, no access check.
    let r = client()
        .post(format!("{base}/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);
    let r = client()
        .delete(format!("{base}/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 501);

    let open = start(Access::default(), BTreeMap::new(), None).await;
    let base = format!("http://127.0.0.1:{open}");
    let huge = format!("{{\"leader\": \"{}\"}}", "x".repeat(2 << 20));
    let r = client()
        .post(format!("{base}/switchover"))
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = client()
        .post(format!("{base}/switchover"))
        .body("{\"leader\": \"node1\", candidate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(text.starts_with("Bad Request: invalid JSON"), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
    // Past the checks, the request reaches the (absent) agent.
    let r = client()
        .post(format!("{base}/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the openssl command (scripts/setup installs it)");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    for who in ["server", "client"] {
        let key = format!("{who}.key");
        let csr = format!("{who}.csr");
        let crt = format!("{who}.crt");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={who}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
    }
}

#[tokio::test]
async fn https_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let path = |f: &str| dir.path().join(f).display().to_string();
    let files = |verify: &str| TlsFiles {
        certfile: path("server.crt"),
        keyfile: Some(path("server.key")),
        cafile: Some(path("ca.crt")),
        verify_client: Some(verify.into()),
    };
    let ca = reqwest::Certificate::from_pem(&std::fs::read(path("ca.crt")).unwrap()).unwrap();
    let mut identity = std::fs::read(path("client.crt")).unwrap();
    identity.extend(std::fs::read(path("client.key")).unwrap());
    let identity = reqwest::Identity::from_pem(&identity).unwrap();
    let anonymous = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let with_cert = reqwest::Client::builder()
        .add_root_certificate(ca)
        .identity(identity)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let (tls, verify) = acceptor(&files("optional")).unwrap();
    let port = start(
        Access::default(),
        BTreeMap::new(),
        Some(Tls {
            acceptor: tls,
            verify,
        }),
    )
    .await;
    let base = format!("https://127.0.0.1:{port}");
    let r = anonymous
        .get(format!("{base}/patroni"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = anonymous
        .post(format!("{base}/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), "client certificate required");
    let r = with_cert
        .post(format!("{base}/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "past the certificate check");

    let (tls, verify) = acceptor(&files("required")).unwrap();
    let port = start(
        Access::default(),
        BTreeMap::new(),
        Some(Tls {
            acceptor: tls,
            verify,
        }),
    )
    .await;
    let base = format!("https://127.0.0.1:{port}");
    assert!(
        anonymous
            .get(format!("{base}/patroni"))
            .send()
            .await
            .is_err()
    );
    let r = with_cert
        .get(format!("{base}/patroni"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let missing = TlsFiles {
        certfile: path("nope.crt"),
        ..files("none")
    };
    let error = acceptor(&missing).err().unwrap();
    assert!(error.starts_with("restapi.certfile"), "{error}");
    assert!(acceptor(&files("sometimes")).is_err());
}

/// One self-signed certificate (`CA:TRUE`, as `openssl req -x509` makes it) as CA, server and
/// client certificate, the way Patroni's acceptance suite and many small deployments use it; the
/// client is curl (OpenSSL, as Python's `ssl` and libpq).
#[tokio::test]
async fn https_with_one_self_signed_certificate_for_everything() {
    let dir = tempfile::tempdir().unwrap();
    openssl(
        dir.path(),
        &[
            "req",
            "-nodes",
            "-new",
            "-x509",
            "-subj",
            "/CN=batman.patroni",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            "one.key",
            "-out",
            "one.crt",
        ],
    );
    let path = |f: &str| dir.path().join(f).display().to_string();
    let (tls, verify) = acceptor(&TlsFiles {
        certfile: path("one.crt"),
        keyfile: Some(path("one.key")),
        cafile: Some(path("one.crt")),
        verify_client: Some("required".into()),
    })
    .unwrap();
    let port = start(
        Access::default(),
        BTreeMap::new(),
        Some(Tls {
            acceptor: tls,
            verify,
        }),
    )
    .await;
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(["--cacert", &path("one.crt"), "--cert", &path("one.crt")])
        .args(["--key", &path("one.key")])
        .arg(format!("https://127.0.0.1:{port}/patroni"))
        .output()
        .await
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Ferroni's own clients (ferronictl, the agent's calls to its peers) accept it too.
    let tls = ferroni_api::trust::client_config(&ferroni_api::trust::ClientFiles {
        cacert: Some(path("one.crt")),
        certfile: Some(path("one.crt")),
        keyfile: Some(path("one.key")),
        insecure: false,
    })
    .unwrap();
    let ours = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = ours
        .get(format!("https://127.0.0.1:{port}/patroni"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Another self-signed certificate is still refused.
    openssl(
        dir.path(),
        &[
            "req",
            "-nodes",
            "-new",
            "-x509",
            "-subj",
            "/CN=joker",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            "other.key",
            "-out",
            "other.crt",
        ],
    );
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(["--cacert", &path("one.crt"), "--cert", &path("other.crt")])
        .args(["--key", &path("other.key")])
        .arg(format!("https://127.0.0.1:{port}/patroni"))
        .output()
        .await
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "000");
    let refusal = String::from_utf8_lossy(&out.stderr);
    assert!(refusal.contains("alert"), "{refusal}");
    // A trusted self-signed certificate for another address does not pass for this one: the
    // name is still checked.
    openssl(
        dir.path(),
        &[
            "req",
            "-nodes",
            "-new",
            "-x509",
            "-subj",
            "/CN=robin",
            "-addext",
            "subjectAltName=IP:127.0.0.2",
            "-keyout",
            "elsewhere.key",
            "-out",
            "elsewhere.crt",
        ],
    );
    let (tls, verify) = acceptor(&TlsFiles {
        certfile: path("elsewhere.crt"),
        keyfile: Some(path("elsewhere.key")),
        cafile: None,
        verify_client: Some("none".into()),
    })
    .unwrap();
    let elsewhere = start(
        Access::default(),
        BTreeMap::new(),
        Some(Tls {
            acceptor: tls,
            verify,
        }),
    )
    .await;
    let tls = ferroni_api::trust::client_config(&ferroni_api::trust::ClientFiles {
        cacert: Some(path("elsewhere.crt")),
        ..Default::default()
    })
    .unwrap();
    let strict = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let refused = strict
        .get(format!("https://127.0.0.1:{elsewhere}/patroni"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
}
