//! The pgpass file Patroni writes before connecting with passwords (mode 0600).

/// One `host:port:*:user:password` line, `:` and `\` escaped.
pub fn line(host: &str, port: u16, user: &str, password: &str) -> String {
    let esc = |s: &str| s.replace('\\', r"\\").replace(':', r"\:");
    format!("{}:{port}:*:{}:{}", esc(host), esc(user), esc(password))
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_separators() {
        assert_eq!(
            super::line("127.0.0.1", 5541, "replicator", "rep-pass"),
            "127.0.0.1:5541:*:replicator:rep-pass"
        );
        assert_eq!(super::line("h", 1, "u", r"a:b\c"), r"h:1:*:u:a\:b\\c");
    }
}
