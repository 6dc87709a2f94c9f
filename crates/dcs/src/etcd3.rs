//! etcd v3
