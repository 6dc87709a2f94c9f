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

/// Compact JSON. Serializing these types cannot fail (string keys, finite numbers), so an error
/// would be a bug; it yields `{}` rather than a panic.
pub(crate) fn compact<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_round_trip_as_postgresql_prints_them() {
        assert_eq!(parse_lsn("0/4000060"), Some(67108960));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(format_lsn(parse_lsn("A/FF00AB").unwrap()), "A/FF00AB");
        assert_eq!(parse_lsn("4000060"), None);
        assert_eq!(parse_lsn("1/100000000"), None);
    }
}
