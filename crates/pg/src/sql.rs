//! Every SQL statement Ferroni sends to PostgreSQL.

/// The columns that say where a server is in its WAL (a literal, so both queries embed it). The
/// timeline of a primary is read from its current WAL file name (it changes at promotion, before
/// any checkpoint); a replica's is the newest of its WAL receiver's, its last checkpoint's and
/// its minimum recovery point's (a replica that stopped streaming still replayed onto the
/// timeline it followed, though no restartpoint recorded it).
macro_rules! wal_columns {
    () => {
        "pg_catalog.pg_is_in_recovery() AS in_recovery, \
     CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL \
          ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int::bigint END AS primary_timeline, \
     (SELECT received_tli::bigint FROM pg_catalog.pg_stat_get_wal_receiver()) AS receiver_timeline, \
     (pg_catalog.pg_control_checkpoint()).timeline_id::bigint AS checkpoint_timeline, \
     (pg_catalog.pg_control_recovery()).min_recovery_end_timeline::bigint AS recovery_end_timeline, \
     CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL \
          ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_flush_lsn(), '0/0')::bigint END AS flush_lsn, \
     pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), '0/0')::bigint AS receive_lsn, \
     pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_replay_lsn(), '0/0')::bigint AS replay_lsn"
    };
}

/// Role, timeline, WAL positions, slots and pending restarts of the local server, in one round
/// trip. Pending-restart parameters leave out `recovery_target*`, which a promoted replica still
/// reports while they no longer apply.
pub const OBSERVE: &str = concat!(
    "SELECT ",
    wal_columns!(),
    ", \
     (SELECT pg_catalog.string_agg(slot_name, ',') FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical') AS slots, \
     (SELECT pg_catalog.json_object_agg(slot_name, pg_catalog.pg_wal_lsn_diff(restart_lsn, '0/0')::bigint)::text \
        FROM pg_catalog.pg_replication_slots WHERE slot_type = 'physical' AND restart_lsn IS NOT NULL) AS slot_lsns, \
     pg_catalog.to_char(pg_catalog.pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00' AS postmaster_start_time, \
     pg_catalog.current_setting('server_version_num')::int AS server_version, \
     COALESCE((SELECT status = 'streaming' FROM pg_catalog.pg_stat_get_wal_receiver()), false) AS receiver_streaming, \
     (SELECT pg_catalog.json_object_agg(s.name, pg_catalog.json_build_object('old_value', s.setting, 'new_value', f.setting) ORDER BY s.name)::text \
        FROM pg_catalog.pg_settings s LEFT JOIN LATERAL (SELECT fs.setting FROM pg_catalog.pg_file_settings fs \
        WHERE fs.name = s.name ORDER BY fs.seqno DESC LIMIT 1) f ON true \
        WHERE s.pending_restart AND s.name NOT LIKE 'recovery\\_target%') AS pending_restart"
);

/// Only where the server is in its WAL (the columns of [`OBSERVE`] that say so), for `/patroni`:
/// cheap enough to ask on every request.
pub const POSITIONS: &str = concat!("SELECT ", wal_columns!());

/// The replication connections of a primary, as `/patroni` lists them.
pub const REPLICATION: &str = "SELECT usename::text, application_name, pg_catalog.host(client_addr), state, sync_state, sync_priority::bigint \
     FROM pg_catalog.pg_stat_replication ORDER BY application_name";

/// Promotes a standby and waits (up to 60 s) for it to finish.
pub const PROMOTE: &str = "SELECT pg_catalog.pg_promote(true, 60)";

/// Creates a physical slot unless it exists. `$1`: slot name.
pub const CREATE_PHYSICAL_SLOT: &str = "SELECT pg_catalog.pg_create_physical_replication_slot($1) \
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)";

/// Drops an inactive physical slot. `$1`: slot name.
pub const DROP_PHYSICAL_SLOT: &str = "SELECT pg_catalog.pg_drop_replication_slot(slot_name) \
     FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical' AND NOT active";

/// Quiet statements around role changes, so passwords never reach the server log.
pub const QUIET: [&str; 3] = [
    "SET log_statement TO none",
    "SET log_min_duration_statement TO -1",
    "SET log_min_error_statement TO 'log'",
];

/// Creates or updates a login role. `{name}` must be a quoted identifier, `{literal}` the quoted
/// name, `{options}` the role options (with `PASSWORD '…'` already quoted).
pub fn create_or_update_role(literal: &str, ident: &str, options: &str) -> String {
    format!(
        "DO $$\nBEGIN\n    SET local synchronous_commit = 'local';\n    PERFORM * FROM pg_catalog.pg_authid WHERE rolname = {literal};\n    IF FOUND THEN\n        ALTER ROLE {ident} WITH {options};\n    ELSE\n        CREATE ROLE {ident} WITH {options};\n    END IF;\nEND;$$"
    )
}

/// The functions pg_rewind needs, granted to a non-superuser rewind role.
pub const REWIND_FUNCTIONS: [&str; 4] = [
    "pg_ls_dir(text, boolean, boolean)",
    "pg_stat_file(text, boolean)",
    "pg_read_binary_file(text)",
    "pg_read_binary_file(text, bigint, bigint, boolean)",
];

/// A string literal: single quotes doubled.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// An identifier: double quotes doubled.
pub fn quote_ident(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// Forces a checkpoint (after promotion, so pg_control shows the new timeline).
pub const CHECKPOINT: &str = "CHECKPOINT";

/// Makes the server re-read its configuration files.
pub const RELOAD: &str = "SELECT pg_catalog.pg_reload_conf()";
