//! ferroni-model will own Patroni's domain types and their exact JSON — `Member`, `Leader`,
//! `ClusterConfig`, `SyncState`, `History`, `Status`, `Failsafe`, `Lsn`, `Tags` — and the one module
//! that builds every DCS key path (`/<namespace>/<scope>/…`).
//!
//! It is empty until the DCS issue (#3) fills it; the crate exists so the workspace has the layout
//! of `DESIGN.md` from the start.
