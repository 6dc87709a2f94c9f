//! ferroni-pg will own everything that touches PostgreSQL: the `Postgres` trait, postmaster control,
//! every SQL string, the pure renderers of `postgresql.conf`, `pg_hba.conf` and recovery settings,
//! the `pg_controldata` parser, basebackup, rewind and replication slots.
//!
//! It is empty until the HA engine issue (#4) fills it.
