//! etcd v2
