//! ferroni-pg owns everything that touches PostgreSQL. Today: the pure parts —
//!
//! - [`params`]: the server parameters (protected ones on the command line, validated; unknown
//!   ones removed with Patroni's warning).
//! - [`conf`]: the managed `postgresql.conf`, `pg_hba.conf`, `pg_ident.conf` and the recovery
//!   section, byte for byte as Patroni writes them.
//! - [`conninfo`]: `primary_conninfo` and members' `conn_url`.
//! - [`pgpass`]: pgpass lines.
//! - [`slots`]: replication slot names from member names.
//! - [`controldata`]: the `pg_controldata` parser.
//!
//! Still to come (issue #4): the `Postgres` trait, postmaster control, SQL, basebackup, rewind.

pub mod conf;
pub mod conninfo;
pub mod controldata;
pub mod params;
pub mod pgpass;
pub mod slots;
