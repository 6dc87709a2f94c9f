//! libpq connection strings as Patroni writes them (`primary_conninfo`), and parsing the members'
//! `conn_url`.

/// Keywords in the order Patroni writes them.
const KEYWORDS: [&str; 19] = [
    "dbname",
    "user",
    "passfile",
    "password",
    "host",
    "port",
    "sslmode",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "application_name",
    "krbsrvname",
    "gssencmode",
    "channel_binding",
    "target_session_attrs",
];

/// A value in a conninfo string: quotes, backslashes and spaces backslash-escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\'' | '\\' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Formats `key=value` pairs in Patroni's keyword order; unknown keywords are dropped, and a
/// `password` is left out when a `passfile` is given.
pub fn format_dsn(params: &[(&str, String)]) -> String {
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
    };
    let has_passfile = get("passfile").is_some();
    KEYWORDS
        .iter()
        .filter(|k| !(has_passfile && **k == "password"))
        .filter_map(|k| get(k).map(|v| format!("{k}={}", escape(v))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Host and port of a `postgres://host:port/db` URL (the members' `conn_url`).
pub fn host_port(conn_url: &str) -> Option<(String, u16)> {
    let rest = conn_url
        .strip_prefix("postgres://")
        .or_else(|| conn_url.strip_prefix("postgresql://"))?;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, p.parse().ok()?),
        _ => (authority, 5432),
    };
    Some((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patronis_order_and_escaping() {
        let dsn = format_dsn(&[
            ("application_name", "node2".into()),
            ("host", "127.0.0.1".into()),
            ("user", "replicator".into()),
            ("password", "secret".into()),
            ("passfile", "/tmp/pg pass".into()),
            ("dbname", "postgres".into()),
            ("unknown", "x".into()),
        ]);
        assert_eq!(
            dsn,
            r"dbname=postgres user=replicator passfile=/tmp/pg\ pass host=127.0.0.1 application_name=node2"
        );
    }

    #[test]
    fn conn_urls() {
        assert_eq!(
            host_port("postgres://127.0.0.1:5541/postgres"),
            Some(("127.0.0.1".into(), 5541))
        );
        assert_eq!(
            host_port("postgres://u:p@db.example/postgres"),
            Some(("db.example".into(), 5432))
        );
        assert_eq!(
            host_port("postgres://[::1]:5433/postgres"),
            Some(("::1".into(), 5433))
        );
        assert_eq!(host_port("mysql://x"), None);
    }
}
