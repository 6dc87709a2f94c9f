//! libpq connection strings as Patroni writes them (`primary_conninfo`).

/// Keywords in the order Patroni writes them.
const KEYWORDS: [&str; 20] = [
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
    "sslnegotiation",
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
}
