//! The member key this agent publishes every cycle, with Patroni's fields.

use crate::settings;
use ferroni_config::Config;
use ferroni_ha::{DataDir, Input, PgState};
use ferroni_model::Member;
use ferroni_pg::local::Observation;

/// This agent's `conn_url` and `api_url`, as its member key publishes them.
pub fn urls(config: &Config) -> (String, String) {
    let scheme = if config.restapi.certfile.is_some() {
        "https"
    } else {
        "http"
    };
    (
        format!("postgres://{}/postgres", config.postgresql.connect_address),
        format!("{scheme}://{}/patroni", config.restapi.connect_address),
    )
}

/// A member value in `state` and `role`, with this agent's URLs, version and tags.
fn member(config: &Config, state: &str, role: &str) -> Member {
    let tags = settings::published_tags(config);
    let (conn_url, api_url) = urls(config);
    Member {
        conn_url,
        api_url,
        state: state.into(),
        role: role.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        tags: (!tags.is_empty()).then_some(tags),
        ..Member::default()
    }
}

/// The member value of a stopped server.
pub fn stopped(config: &Config, role: &'static str) -> Member {
    member(config, "stopped", role)
}

/// This agent's member value. `last_role` keeps the role a stopped server had.
pub fn build(
    config: &Config,
    input: &Input,
    observation: Option<&Observation>,
    last_role: &mut &'static str,
    busy: bool,
) -> Member {
    let (state, role): (&str, &'static str) = match (&input.pg.data, &input.pg.state, observation) {
        (DataDir::Empty, _, _) if busy => ("creating replica", "uninitialized"),
        (DataDir::Empty, _, _) => ("stopped", "uninitialized"),
        (_, PgState::Running(r), _) => ("running", if r.primary { "primary" } else { "replica" }),
        (_, PgState::Starting { .. }, _) => ("starting", *last_role),
        (_, PgState::Stopped { .. }, _) if busy => ("starting", *last_role),
        (_, PgState::Stopped { .. }, _) => ("stopped", *last_role),
    };
    *last_role = role;
    let mut member = Member {
        pause: input.config.paused.then_some(true),
        ..member(config, state, role)
    };
    if let (Some(o), PgState::Running(r)) = (observation, &input.pg.state) {
        member.xlog_location = Some(r.wal_position);
        if o.in_recovery {
            member.replay_lsn = o.replay_lsn;
            member.receive_lsn = o.receive_lsn;
            if o.receive_lsn.is_some() {
                member.replication_state = Some("streaming".into());
            }
        }
        if r.timeline > 0 {
            member.timeline = Some(r.timeline);
        }
    }
    member
}
