//! ferroni-model owns Patroni's domain types and their exact JSON, and the DCS key layout.
//!
//! - [`keys`]: every DCS key path (`/<namespace>/<scope>/…`) is built here.
//! - [`member`]: the `members/<name>` key.
//! - [`failover`], [`sync`], [`history`], [`status`]: the other JSON keys.
//! - [`replication`]: a primary's replication connections (for `/patroni`).
//! - [`slot_name`]: a member's replication slot name.
//! - [`cluster`]: the whole cluster decoded from one read, malformed values skipped with a warning.
//!
//! Every encoder writes compact JSON (`,` and `:`), field order as Patroni's, so a value we write
//! is byte for byte what Patroni would have written.

pub mod cluster;
pub mod failover;
pub mod history;
pub mod keys;
pub mod member;
pub mod replication;
pub mod slot_name;
pub mod status;
pub mod sync;

pub use cluster::{Cluster, LeaderKey, MemberKey, RawKv, Version, Versioned};
pub use failover::Failover;
pub use history::{History, HistoryEntry};
pub use keys::{KeyKind, KeyLayout};
pub use member::Member;
pub use replication::ReplicationRow;
pub use status::Status;
pub use sync::SyncState;

/// `X/Y` in hexadecimal, as PostgreSQL prints an LSN.
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// `X/Y` (as PostgreSQL prints an LSN) → bytes.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let (hi, lo) = (
        u64::from_str_radix(hi, 16).ok()?,
        u64::from_str_radix(lo, 16).ok()?,
    );
    (hi <= 0xFFFF_FFFF && lo <= 0xFFFF_FFFF).then_some((hi << 32) + lo)
}

/// The lines of a timeline history file (`pg_wal/NNNNNNNN.history`): each earlier timeline,
/// the LSN where it ended and the reason written with it. Comments, blank and malformed lines
/// are left out.
pub fn parse_timeline_history(text: &str) -> Vec<(u64, u64, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.splitn(3, '\t');
            let timeline = fields.next()?.trim().parse().ok()?;
            let lsn = parse_lsn(fields.next()?)?;
            Some((
                timeline,
                lsn,
                fields.next().unwrap_or("").trim().to_string(),
            ))
        })
        .collect()
}

/// Compact JSON. Serializing these types cannot fail (string keys, finite numbers), so an error
/// would be a bug; it yields `{}` rather than a panic.
pub(crate) fn compact<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_files_read_as_postgresql_writes_them() {
        let text = "1\t0/5000098\tno recovery target specified\n\n# c\n2\t0/6000000\tbefore 2000-01-01\nbad\n";
        assert_eq!(
            parse_timeline_history(text),
            vec![
                (1, 0x500_0098, "no recovery target specified".to_string()),
                (2, 0x600_0000, "before 2000-01-01".to_string())
            ]
        );
    }

    #[test]
    fn lsns_round_trip_as_postgresql_prints_them() {
        assert_eq!(parse_lsn("0/4000060"), Some(67108960));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(format_lsn(parse_lsn("A/FF00AB").unwrap()), "A/FF00AB");
        assert_eq!(parse_lsn("4000060"), None);
        assert_eq!(parse_lsn("1/100000000"), None);
    }
}
