//! One replication connection of a primary (`pg_stat_replication`), as `/patroni` reports it.

/// A row of `pg_stat_replication`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicationRow {
    pub usename: String,
    pub application_name: String,
    pub client_addr: Option<String>,
    pub state: String,
    pub sync_state: String,
    pub sync_priority: i64,
}
