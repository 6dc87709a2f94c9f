//! The fault suite (issue #7): real etcd, real PostgreSQL 15 and real agents, a writer inserting
//! numbered rows and recording each acknowledgement, and a watcher asking every node every 50 ms
//! whether it accepts writes. Each test injects one fault (a nemesis) and then checks that no two
//! nodes accepted writes at the same moment, that every acknowledged write is on the final
//! primary, and that the cluster healed — one primary, every other node streaming from it — with
//! no manual step. Commit is synchronous to one replica (`synchronous_standby_names: '*'`), so an
//! acknowledged write is on two nodes and only a bug can lose it.
//!
//! The ttl-sensitive scenarios run at Ferroni's fastest settings (ttl 4, loop_wait 1,
//! retry_timeout 1): the fence must hold there too.

mod crash;
mod dcs_outage;
mod frozen_agent;
mod partition;
mod replica_restart;
mod scenario;
mod switchover;
