//! Replication slot names from member names, as Patroni derives them.

pub use ferroni_model::slot_name::slot_name_from_member_name;
