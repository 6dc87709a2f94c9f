//! `edit-config`: change the dynamic configuration in the DCS — with `-s key.path=value`,
//! `-p name=value`, `--apply FILE`, `--replace FILE`, or `$EDITOR` — show the unified diff, ask,
//! and write it compare-and-set. Unlike patronictl, a result that the agents could not use
//! (`-s ttl=abc`) is refused before it is written.

use crate::context::{Ctx, fail};
use crate::prompt::confirm;
use crate::pyyaml;
use anyhow::{Context as _, Result};
use serde_json::{Map, Value};
use std::io::Read;

/// The options of `edit-config`.
pub struct EditOptions {
    pub quiet: bool,
    pub set: Vec<String>,
    pub pg: Vec<String>,
    pub apply: Option<String>,
    pub replace: Option<String>,
    pub force: bool,
}

/// A YAML value as `yaml.safe_load` reads it (`on` → true, `25` → 25, `null` → null).
fn yaml_value(text: &str) -> Result<Value> {
    ferroni_config::yaml::parse(text)
        .map(|(v, _)| v)
        .map_err(|e| {
            anyhow::anyhow!(crate::context::CtlError(format!(
                "invalid YAML: {}",
                e.reason
            )))
        })
}

/// Sets (or, for null, removes) `path` in `config`. Below `postgresql.parameters` the rest of
/// the path is one parameter name (GUCs may contain dots).
fn set_path(config: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        if value.is_null() {
            config.remove(*first);
        } else {
            config.insert(first.to_string(), value);
        }
        return;
    }
    let entry = config
        .entry(first.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(inner) = entry {
        if *first == "parameters" && path.len() > 2 {
            let name = rest.join(".");
            set_path(inner, &[name.as_str()], value);
        } else {
            set_path(inner, rest, value);
        }
    }
}

/// Applies `key.path=value` pairs.
pub fn apply_pairs(config: &mut Map<String, Value>, pairs: &[String]) -> Result<()> {
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return fail(format!("Invalid parameter setting {pair}"));
        };
        let path: Vec<&str> = key.trim().split('.').collect();
        let value = yaml_value(value)?;
        set_path(config, &path, value);
    }
    Ok(())
}

/// Merges a YAML document into `config` (objects merge, null deletes).
fn merge(config: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match (v, config.get_mut(k)) {
            (Value::Null, _) => {
                config.remove(k);
            }
            (Value::Object(p), Some(Value::Object(c))) => merge(c, p),
            _ => {
                config.insert(k.clone(), v.clone());
            }
        }
    }
}

fn read_source(source: &str) -> Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        return Ok(text);
    }
    std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))
}

fn yaml_object(text: &str) -> Result<Map<String, Value>> {
    match yaml_value(text)? {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => fail("the configuration must be a YAML mapping"),
    }
}

/// Edits `before` (YAML) in `$EDITOR` (else `editor`, else `vi`).
fn in_editor(before: &str) -> Result<String> {
    let file = tempfile::Builder::new()
        .prefix("ferronictl-")
        .suffix(".yaml")
        .tempfile()?;
    std::fs::write(file.path(), before)?;
    let editors: Vec<String> = std::env::var("EDITOR")
        .ok()
        .into_iter()
        .chain(["editor".to_string(), "vi".to_string()])
        .collect();
    for editor in editors {
        let mut parts = editor.split_whitespace();
        let Some(program) = parts.next() else {
            continue;
        };
        match std::process::Command::new(program)
            .args(parts)
            .arg(file.path())
            .status()
        {
            Ok(status) if status.success() => return Ok(std::fs::read_to_string(file.path())?),
            Ok(status) => {
                return fail(format!(
                    "Editor exited with return code {}",
                    status.code().unwrap_or(-1)
                ));
            }
            Err(_) => continue,
        }
    }
    fail("EDITOR environment variable is not set. editor or vi are not available")
}

/// A unified diff of `before` and `after`, as Python's `difflib.unified_diff` prints it.
pub fn unified_diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header("", "")
        .to_string()
}

/// `edit-config`.
pub async fn edit_config(ctx: &Ctx, name: Option<&str>, options: EditOptions) -> Result<()> {
    let name = ctx.cluster_name(name)?;
    let dcs = ctx.dcs(&name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let Some(config) = &cluster.config else {
        return fail(format!(
            "The config key does not exist in the cluster {name}"
        ));
    };
    let before = pyyaml::dump(&Value::Object(config.value.clone()));
    let mut after = match (&options.replace, &options.apply) {
        (Some(source), _) => yaml_object(&read_source(source)?)?,
        (None, Some(source)) => {
            let mut data = config.value.clone();
            merge(&mut data, &yaml_object(&read_source(source)?)?);
            data
        }
        (None, None) if options.set.is_empty() && options.pg.is_empty() => {
            yaml_object(&in_editor(&before)?)?
        }
        _ => config.value.clone(),
    };
    apply_pairs(&mut after, &options.set)?;
    let pg: Vec<String> = options
        .pg
        .iter()
        .map(|p| format!("postgresql.parameters.{p}"))
        .collect();
    apply_pairs(&mut after, &pg)?;
    let after_text = pyyaml::dump(&Value::Object(after.clone()));
    if after_text == before {
        if !options.quiet {
            println!("Not changed");
        }
        return Ok(());
    }
    if !options.quiet {
        print!("{}", unified_diff(&before, &after_text));
    }
    // Patroni writes whatever was asked, even a ttl its agents cannot use; refuse that here, and
    // say what the agents will make of the rest before it is written.
    match ferroni_config::change::review(Some(&config.value), &after) {
        Err(issues) => {
            let reasons: Vec<String> = issues.iter().map(ToString::to_string).collect();
            return fail(format!(
                "Invalid configuration, not changed: {}",
                reasons.join("; ")
            ));
        }
        Ok(verdict) => {
            for note in verdict.notes {
                eprintln!("Warning: {note}");
            }
        }
    }
    if !options.force && !confirm("Apply these changes?")? {
        return Ok(());
    }
    match dcs.set_config(&after, Some(config.version)).await {
        Ok(_) => {
            println!("Configuration changed");
            Ok(())
        }
        Err(ferroni_dcs::DcsError::Conflict(_)) => {
            fail("Config modification aborted due to concurrent changes")
        }
        Err(e) => fail(format!("cannot write the configuration: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pairs_as_patronictl_reads_them() {
        let mut c = json!({"ttl": 30, "postgresql": {"parameters": {"a": 1}}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        apply_pairs(
            &mut c,
            &[
                "ttl=25".into(),
                "synchronous_mode=on".into(),
                "postgresql.parameters.pg_stat_statements.track=all".into(),
                "postgresql.parameters.a=null".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            Value::Object(c.clone()),
            json!({"ttl": 25, "synchronous_mode": true, "postgresql": {"parameters": {"pg_stat_statements.track": "all"}}})
        );
        assert!(apply_pairs(&mut c, &["postgresql.parameters.foo".into()]).is_err());
    }
}
