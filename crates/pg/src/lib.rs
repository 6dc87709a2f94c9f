//! ferroni-pg owns everything that touches PostgreSQL.
//!
//! - [`server`]: the [`server::Postgres`] trait the agent drives (the real server, or the
//!   simulator's model).
//! - [`local`]: the server beside the agent — data directory, managed files, postmaster control,
//!   initdb, basebackup, promotion, slots, and the observations the HA loop needs.
//! - [`sql`]: every SQL statement.
//! - [`bin`]: where the PostgreSQL programs are.
//! - [`params`]: the server parameters (protected ones on the command line, validated; unknown
//!   ones removed with Patroni's warning).
//! - [`conf`]: the managed `postgresql.conf`, `pg_hba.conf`, `pg_ident.conf` and the recovery
//!   section, byte for byte as Patroni writes them.
//! - [`connect`]: connections as libpq makes them (unix socket, TLS with libpq's `sslmode`).
//! - [`conninfo`]: `primary_conninfo` and members' `conn_url`.
//! - [`pgpass`]: pgpass lines.
//! - [`slots`]: replication slot names from member names.
//! - [`exit`]: the moment a postmaster exits (pidfd).
//! - [`controldata`]: the `pg_controldata` parser.
//!
//! Still to come: pg_rewind, custom replica creation methods, callbacks.

pub mod bin;
pub mod conf;
pub mod connect;
pub mod conninfo;
pub mod controldata;
pub mod exit;
pub mod local;
pub mod params;
pub mod pgpass;
pub mod server;
pub mod slots;
pub mod sql;
pub mod walfiles;
