//! The dynamic (cluster-wide) settings stored in the DCS `/config` key and seeded from
//! `bootstrap.dcs`, with Patroni's defaults, minimums and timing rule.

use crate::diagnostics::Issue;
use crate::validate::describe;
use serde_json::{Map, Value};

/// `synchronous_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    #[default]
    Off,
    On,
    Quorum,
}

/// The typed view of the dynamic configuration. `raw` keeps every key as stored, so keys this
/// version does not interpret survive a round trip through the DCS.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicConfig {
    pub ttl: u32,
    pub loop_wait: u32,
    pub retry_timeout: u32,
    pub maximum_lag_on_failover: i64,
    pub maximum_lag_on_syncnode: i64,
    pub max_timelines_history: i64,
    pub primary_start_timeout: i64,
    pub primary_stop_timeout: i64,
    pub primary_race_backoff: i64,
    pub synchronous_mode: SyncMode,
    pub synchronous_mode_strict: bool,
    pub synchronous_node_count: i64,
    pub failsafe_mode: bool,
    pub check_timeline: bool,
    pub pause: bool,
    pub use_pg_rewind: bool,
    pub use_slots: bool,
    pub raw: Map<String, Value>,
}

impl Default for DynamicConfig {
    fn default() -> Self {
        DynamicConfig {
            ttl: 30,
            loop_wait: 10,
            retry_timeout: 10,
            maximum_lag_on_failover: 1_048_576,
            maximum_lag_on_syncnode: -1,
            max_timelines_history: 0,
            primary_start_timeout: 300,
            primary_stop_timeout: 0,
            primary_race_backoff: 0,
            synchronous_mode: SyncMode::Off,
            synchronous_mode_strict: false,
            synchronous_node_count: 1,
            failsafe_mode: false,
            check_timeline: false,
            pause: false,
            use_pg_rewind: false,
            use_slots: true,
            raw: Map::new(),
        }
    }
}

/// Reads values of one mapping, collecting an [`Issue`] per wrong value instead of stopping.
struct Reader<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
    errors: Vec<Issue>,
    /// The paths of every key looked at, so the keys read can be listed ([`DynamicConfig::typed_keys`]).
    seen: Vec<String>,
}

impl Reader<'_> {
    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn int(&mut self, key: &str, default: i64) -> i64 {
        self.seen.push(self.path(key));
        match self.map.get(key) {
            None | Some(Value::Null) => default,
            Some(v) => match as_int(v) {
                Some(i) => i,
                None => {
                    self.errors.push(Issue::new(
                        self.path(key),
                        format!("{} is not an integer", describe(v)),
                    ));
                    default
                }
            },
        }
    }

    fn boolean(&mut self, key: &str, default: bool) -> bool {
        self.seen.push(self.path(key));
        match self.map.get(key) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if crate::flex::parse_bool(s).is_some() => {
                crate::flex::parse_bool(s).unwrap_or(default)
            }
            Some(v) => {
                self.errors.push(Issue::new(
                    self.path(key),
                    format!("{} is not a boolean", describe(v)),
                ));
                default
            }
        }
    }
}

/// An integer, also from a numeric string or an integral float, as Python's `int()` takes it.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// The shortest leader lease Ferroni accepts. etcd grants no lease under 1.5 × its election
/// timeout (1.5 s by default) and the fence guard keeps a margin of ttl/4 before the lease's end.
pub const MIN_TTL: i64 = 4;
/// The shortest DCS retry budget Ferroni accepts.
pub const MIN_RETRY_TIMEOUT: i64 = 1;

fn clamp_u32(i: i64) -> u32 {
    u32::try_from(i.max(0)).unwrap_or(u32::MAX)
}

impl DynamicConfig {
    /// Reads a dynamic configuration. `prefix` names where it came from (`bootstrap.dcs`) in errors.
    /// Values under the minimums, and timings that break `loop_wait + 2*retry_timeout <= ttl`, are
    /// adjusted with Patroni's warnings, returned beside the result.
    pub fn from_map(
        map: &Map<String, Value>,
        prefix: &str,
    ) -> Result<(DynamicConfig, Vec<String>), Vec<Issue>> {
        Self::read(map, prefix).0
    }

    /// Every key this version reads from a dynamic configuration (`ttl`, `postgresql.use_slots`).
    pub fn typed_keys() -> Vec<String> {
        let mut with_sections = Map::new();
        with_sections.insert("postgresql".into(), Value::Object(Map::new()));
        Self::read(&with_sections, "").1
    }

    /// [`DynamicConfig::from_map`], and the paths of the keys looked at.
    #[allow(clippy::type_complexity)]
    fn read(
        map: &Map<String, Value>,
        prefix: &str,
    ) -> (
        Result<(DynamicConfig, Vec<String>), Vec<Issue>>,
        Vec<String>,
    ) {
        let d = DynamicConfig::default();
        let mut r = Reader {
            map,
            prefix,
            errors: Vec::new(),
            seen: Vec::new(),
        };
        let ttl = r.int("ttl", d.ttl.into());
        let loop_wait = r.int("loop_wait", d.loop_wait.into());
        let retry_timeout = r.int("retry_timeout", d.retry_timeout.into());
        let legacy_start = r.int("master_start_timeout", d.primary_start_timeout);
        let legacy_stop = r.int("master_stop_timeout", d.primary_stop_timeout);
        let mut cfg = DynamicConfig {
            maximum_lag_on_failover: r.int("maximum_lag_on_failover", d.maximum_lag_on_failover),
            maximum_lag_on_syncnode: r.int("maximum_lag_on_syncnode", d.maximum_lag_on_syncnode),
            max_timelines_history: r.int("max_timelines_history", d.max_timelines_history),
            primary_start_timeout: r.int("primary_start_timeout", legacy_start),
            primary_stop_timeout: r.int("primary_stop_timeout", legacy_stop),
            primary_race_backoff: r.int("primary_race_backoff", d.primary_race_backoff),
            synchronous_mode_strict: r.boolean("synchronous_mode_strict", false),
            synchronous_node_count: r.int("synchronous_node_count", d.synchronous_node_count),
            failsafe_mode: r.boolean("failsafe_mode", false),
            check_timeline: r.boolean("check_timeline", false),
            pause: r.boolean("pause", false),
            raw: map.clone(),
            ..d
        };
        r.seen.push(r.path("synchronous_mode"));
        cfg.synchronous_mode = match map.get("synchronous_mode") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => SyncMode::Off,
            Some(Value::Bool(true)) => SyncMode::On,
            Some(Value::String(s)) if s == "quorum" => SyncMode::Quorum,
            Some(Value::String(s)) => match crate::flex::parse_bool(s) {
                Some(true) => SyncMode::On,
                Some(false) => SyncMode::Off,
                None => {
                    r.errors.push(Issue::new(
                        r.path("synchronous_mode"),
                        format!(
                            "{} is not one of off, on, quorum",
                            describe(&Value::String(s.clone()))
                        ),
                    ));
                    SyncMode::Off
                }
            },
            Some(v) => {
                r.errors.push(Issue::new(
                    r.path("synchronous_mode"),
                    format!("{} is not one of off, on, quorum", describe(v)),
                ));
                SyncMode::Off
            }
        };
        if let Some(pg) = map.get("postgresql") {
            match pg {
                Value::Object(pg_map) => {
                    let pg_prefix = r.path("postgresql");
                    let mut pr = Reader {
                        map: pg_map,
                        prefix: &pg_prefix,
                        errors: Vec::new(),
                        seen: vec![format!("{pg_prefix}.parameters")],
                    };
                    cfg.use_pg_rewind = pr.boolean("use_pg_rewind", false);
                    cfg.use_slots = pr.boolean("use_slots", true);
                    if let Some(p) = pg_map.get("parameters")
                        && !p.is_object()
                        && !p.is_null()
                    {
                        pr.errors.push(Issue::new(
                            pr.path("parameters"),
                            format!("{} is not a mapping", describe(p)),
                        ));
                    }
                    r.errors.extend(pr.errors);
                    r.seen.extend(pr.seen);
                }
                Value::Null => {}
                other => r.errors.push(Issue::new(
                    r.path("postgresql"),
                    format!("{} is not a mapping", describe(other)),
                )),
            }
        }
        if !r.errors.is_empty() {
            return (Err(r.errors), r.seen);
        }
        let warnings = cfg.set_timeouts(ttl, loop_wait, retry_timeout);
        (Ok((cfg, warnings)), r.seen)
    }

    /// Applies Ferroni's minimums (ttl 4, loop_wait 1, retry_timeout 1; Patroni's are 20, 1 and 3)
    /// and Patroni's rule `loop_wait + 2*retry_timeout <= ttl`, preferring to shorten `loop_wait`.
    /// Patroni needs a long ttl because nothing stops a primary whose agent stalls until the lease
    /// is gone; Ferroni's fence guard stops it before the lease can expire, whatever the ttl, so a
    /// short ttl only costs availability (a DCS answer slower than retry_timeout demotes the
    /// primary), never safety. See docs/ha.md "Fastest settings".
    fn set_timeouts(&mut self, ttl: i64, loop_wait: i64, retry_timeout: i64) -> Vec<String> {
        let mut warnings = Vec::new();
        let mut at_least = |name: &str, value: i64, min: i64| {
            if value < min {
                warnings.push(format!(
                    "{name}={value} can't be smaller than {min}, adjusting..."
                ));
                min
            } else {
                value
            }
        };
        let loop_wait = at_least("loop_wait", loop_wait, 1);
        let retry_timeout = at_least("retry_timeout", retry_timeout, MIN_RETRY_TIMEOUT);
        let ttl = at_least("ttl", ttl, MIN_TTL);
        let (mut new_loop, mut new_retry) = (loop_wait, retry_timeout);
        if 1 + 2 * retry_timeout > ttl {
            new_loop = 1;
            new_retry = (ttl - 1) / 2;
            warnings.push(format!(
                "Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl={ttl}. Adjusting loop_wait from {loop_wait} to {new_loop} and retry_timeout from {retry_timeout} to {new_retry}"
            ));
        } else if loop_wait + 2 * retry_timeout > ttl {
            new_loop = ttl - 2 * retry_timeout;
            warnings.push(format!(
                "Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl={ttl} and retry_timeout={retry_timeout}. Adjusting loop_wait from {loop_wait} to {new_loop}"
            ));
        }
        self.ttl = clamp_u32(ttl);
        self.loop_wait = clamp_u32(new_loop);
        self.retry_timeout = clamp_u32(new_retry);
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<(DynamicConfig, Vec<String>), Vec<Issue>> {
        DynamicConfig::from_map(
            v.as_object().expect("test input is a mapping"),
            "bootstrap.dcs",
        )
    }

    #[test]
    fn defaults_are_patronis() {
        let (c, w) = read(json!({})).unwrap();
        assert_eq!((c.ttl, c.loop_wait, c.retry_timeout), (30, 10, 10));
        assert_eq!(c.maximum_lag_on_failover, 1_048_576);
        assert_eq!(c.primary_start_timeout, 300);
        assert!(c.use_slots && !c.use_pg_rewind);
        assert!(w.is_empty());
    }

    #[test]
    fn strings_and_legacy_names_are_read() {
        let (c, _) =
            read(json!({"ttl": "40", "master_start_timeout": 60, "synchronous_mode": "on"}))
                .unwrap();
        assert_eq!(c.ttl, 40);
        assert_eq!(c.primary_start_timeout, 60);
        assert_eq!(c.synchronous_mode, SyncMode::On);
        let (c, _) = read(json!({"synchronous_mode": "quorum", "pause": true})).unwrap();
        assert_eq!(c.synchronous_mode, SyncMode::Quorum);
        assert!(c.pause);
    }

    #[test]
    fn minimums_are_enforced_with_patronis_warning() {
        let (c, w) = read(json!({"ttl": 3, "loop_wait": 0, "retry_timeout": 0})).unwrap();
        assert_eq!((c.ttl, c.loop_wait, c.retry_timeout), (4, 1, 1));
        assert_eq!(
            w,
            vec![
                "loop_wait=0 can't be smaller than 1, adjusting...",
                "retry_timeout=0 can't be smaller than 1, adjusting...",
                "ttl=3 can't be smaller than 4, adjusting...",
            ]
        );
    }

    #[test]
    fn the_fastest_settings_are_below_patronis_minimums() {
        let (c, w) = read(json!({"ttl": 4, "loop_wait": 1, "retry_timeout": 1})).unwrap();
        assert_eq!((c.ttl, c.loop_wait, c.retry_timeout), (4, 1, 1));
        assert!(w.is_empty(), "{w:?}");
        let (c, w) = read(json!({"ttl": 4, "loop_wait": 1, "retry_timeout": 3})).unwrap();
        assert_eq!((c.ttl, c.loop_wait, c.retry_timeout), (4, 1, 1));
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn timing_rule_shortens_loop_wait_first() {
        let (c, w) = read(json!({"ttl": 30, "loop_wait": 15, "retry_timeout": 10})).unwrap();
        assert_eq!((c.ttl, c.loop_wait, c.retry_timeout), (30, 10, 10));
        assert_eq!(
            w,
            vec![
                "Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl=30 and retry_timeout=10. Adjusting loop_wait from 15 to 10"
            ]
        );
    }

    #[test]
    fn timing_rule_shortens_retry_timeout_when_loop_wait_cannot_help() {
        let (c, w) = read(json!({"ttl": 20, "loop_wait": 5, "retry_timeout": 15})).unwrap();
        assert_eq!((c.ttl, c.loop_wait, c.retry_timeout), (20, 1, 9));
        assert_eq!(
            w,
            vec![
                "Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl=20. Adjusting loop_wait from 5 to 1 and retry_timeout from 15 to 9"
            ]
        );
    }

    #[test]
    fn wrong_values_name_the_key_the_value_and_the_rule() {
        let errors = read(
            json!({"ttl": "abc", "postgresql": {"use_slots": "maybe"}, "synchronous_mode": 7}),
        )
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            vec![
                "bootstrap.dcs.ttl: 'abc' is not an integer",
                "bootstrap.dcs.synchronous_mode: 7 is not one of off, on, quorum",
                "bootstrap.dcs.postgresql.use_slots: 'maybe' is not a boolean",
            ]
        );
    }
}
