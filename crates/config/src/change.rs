//! A proposed dynamic configuration, judged before it is written to the DCS: the one check shared
//! by every way in (`ferronictl edit-config`, `PATCH /config`, `PUT /config`). A value the agents
//! cannot read is refused, naming the key; a value they will adjust (Patroni's timing rule) or not
//! act on yet is accepted, and the caller says so before writing.

use crate::diagnostics::Issue;
use crate::dynamic::DynamicConfig;
use crate::unimplemented::new_dynamic_warnings;
use serde_json::{Map, Value};

/// An acceptable proposal: what the agents will run with, and what to tell the user first.
#[derive(Debug)]
pub struct Verdict {
    pub applied: DynamicConfig,
    pub notes: Vec<String>,
}

/// Judges `after`, the whole dynamic configuration to be written, against `before`, the one in
/// the DCS now (keys already set there are not reported again).
pub fn review(
    before: Option<&Map<String, Value>>,
    after: &Map<String, Value>,
) -> Result<Verdict, Vec<Issue>> {
    let (applied, mut notes) = DynamicConfig::from_map(after, "")?;
    if !notes.is_empty() {
        notes.push(format!(
            "the agents will apply ttl={}, loop_wait={}, retry_timeout={}",
            applied.ttl, applied.loop_wait, applied.retry_timeout
        ));
    }
    notes.extend(new_dynamic_warnings(
        before.unwrap_or(&Map::new()),
        after,
        "",
    ));
    Ok(Verdict { applied, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("a mapping")
    }

    #[test]
    fn a_value_the_agents_cannot_read_is_refused_by_name() {
        let issues = review(None, &map(json!({"ttl": "abc", "loop_wait": 10}))).unwrap_err();
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["ttl: 'abc' is not an integer"]);
    }

    #[test]
    fn timings_the_agents_adjust_are_announced_with_what_they_will_apply() {
        let before = map(json!({"ttl": 30, "loop_wait": 10, "retry_timeout": 10}));
        let after = map(json!({"ttl": 30, "loop_wait": 100, "retry_timeout": 10}));
        let verdict = review(Some(&before), &after).unwrap();
        assert_eq!(
            (
                verdict.applied.ttl,
                verdict.applied.loop_wait,
                verdict.applied.retry_timeout
            ),
            (30, 10, 10)
        );
        assert_eq!(
            verdict.notes,
            [
                "Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl=30 and retry_timeout=10. Adjusting loop_wait from 100 to 10",
                "the agents will apply ttl=30, loop_wait=10, retry_timeout=10",
            ]
        );
        assert!(review(Some(&before), &before).unwrap().notes.is_empty());
    }

    #[test]
    fn keys_not_acted_on_are_named_when_newly_set() {
        let before = map(json!({"ttl": 30, "slots": {"a": {"type": "physical"}}}));
        let after =
            map(json!({"ttl": 30, "slots": {"a": {"type": "physical"}}, "synchronous_mode": "on"}));
        let notes = review(Some(&before), &after).unwrap().notes;
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0]
                .starts_with("synchronous_mode: synchronous replication is not implemented yet")
        );
    }
}
