//! The sample configuration printed by `ferroni --generate-sample-config`: a complete, valid
//! `patroni.yml` for one member, every value a Patroni default or an obvious placeholder.

/// A sample configuration, valid as it is.
pub const SAMPLE: &str = r#"# Ferroni reads Patroni's patroni.yml unchanged. Adjust names, addresses and passwords.
scope: demo
namespace: /service/
name: node1

restapi:
  listen: 0.0.0.0:8008
  connect_address: 10.0.0.1:8008
#  authentication:
#    username: admin
#    password: change-me

etcd3:
  hosts: 10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379

log:
  level: INFO
#  dir: /var/log/ferroni
#  file_size: 25000000
#  file_num: 4

bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_connections: 100
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
  initdb:
    - encoding: UTF8
    - data-checksums

postgresql:
  listen: 0.0.0.0:5432
  connect_address: 10.0.0.1:5432
  data_dir: /var/lib/postgresql/15/main
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: /tmp/pgpass0
  authentication:
    superuser:
      username: postgres
      password: change-me
    replication:
      username: replicator
      password: change-me
    rewind:
      username: rewind_user
      password: change-me
  pg_hba:
    - local all all peer
    - host replication replicator 10.0.0.0/24 scram-sha-256
    - host all all 10.0.0.0/24 scram-sha-256

watchdog:
  mode: automatic
  device: /dev/watchdog
  safety_margin: 5

tags:
  failover_priority: 1
  noloadbalance: false
  clonefrom: false
  nosync: false
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_loads_without_errors_or_warnings() {
        let (tree, dups) = crate::yaml::parse(super::SAMPLE).unwrap();
        assert!(dups.is_empty());
        let loaded = crate::from_tree(tree).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.config.etcd3.unwrap().endpoints().len(), 3);
    }
}
