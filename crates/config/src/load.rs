//! Loading: a file, a directory of YAML files merged in sorted order, `PATRONI_CONFIGURATION`, or
//! the environment alone; then the `PATRONI_*` overlay, the typed schema and the rules.

use crate::diagnostics::{ConfigError, Issue};
use crate::dynamic::DynamicConfig;
use crate::merge::deep_merge;
use crate::schema::Config;
use crate::{env, validate, yaml};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A configuration that passed every rule, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The initial dynamic configuration, from `bootstrap.dcs`, adjusted by Patroni's rules.
    pub bootstrap_dynamic: DynamicConfig,
    /// The configuration has a `bootstrap` section (or `citus`, which makes one): as in Patroni,
    /// only then may this member initialize a new cluster; without one it waits for a leader to
    /// clone.
    pub can_bootstrap: bool,
    pub warnings: Vec<String>,
    /// The files read, in the order they were merged.
    pub files: Vec<PathBuf>,
}

/// The YAML files of `path`: the file itself, or a directory's `*.yml`/`*.yaml` in sorted order.
fn config_files(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let read_err = |e: std::io::Error| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if !path.is_dir() {
        // Reading it below reports a missing or unreadable file precisely.
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_err)? {
        let file = entry.map_err(read_err)?.path();
        let yaml_ext = file.extension().is_some_and(|e| e == "yml" || e == "yaml");
        if yaml_ext && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ConfigError::EmptyDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(files)
}

/// Parses one YAML document that must be a mapping; duplicate keys become warnings.
fn parse_document(
    text: &str,
    origin: &Path,
    warnings: &mut Vec<String>,
) -> Result<Value, ConfigError> {
    let (value, duplicates) = yaml::parse(text).map_err(|e| ConfigError::Parse {
        path: origin.to_path_buf(),
        line: e.line,
        reason: e.reason,
    })?;
    for key in duplicates {
        warnings.push(format!(
            "{}: key {key} is given more than once; the last value is used",
            origin.display()
        ));
    }
    match value {
        Value::Object(_) => Ok(value),
        // An empty file is an empty mapping to Patroni's merge, but a file of only a scalar is an error.
        Value::Null => Ok(Value::Object(Map::new())),
        _ => Err(ConfigError::NotMapping {
            path: origin.to_path_buf(),
        }),
    }
}

/// Loads the configuration the way Patroni does. `path` is the FILE argument; `env` the process
/// environment (passed in so tests control it).
pub fn load<I>(path: Option<&Path>, env: I) -> Result<Loaded, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut warnings = Vec::new();
    let mut files = Vec::new();
    let tree = merged_tree(path, env, &mut warnings, &mut files)?;
    let mut loaded = from_tree(tree)?;
    warnings.append(&mut loaded.warnings);
    loaded.warnings = warnings;
    loaded.files = files;
    Ok(loaded)
}

/// The configuration as a client (`ferronictl`) reads it: the same files and `PATRONI_*`
/// overlay, typed, but without the checks an agent needs (a client config may hold only the DCS
/// section and `scope`). A missing `path` with no variables set gives the defaults.
pub fn load_for_client<I>(path: Option<&Path>, env: I) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let tree = merged_tree(path, env, &mut Vec::new(), &mut Vec::new())?;
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ConfigError::Invalid {
            issues: vec![Issue::new(path, plain_message(e.into_inner().to_string()))],
        }
    })
}

/// The files of `path` (or `PATRONI_CONFIGURATION`) merged, with the `PATRONI_*` overlay.
fn merged_tree<I>(
    path: Option<&Path>,
    env: I,
    warnings: &mut Vec<String>,
    files: &mut Vec<PathBuf>,
) -> Result<Value, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let env: Vec<(String, String)> = env.into_iter().collect();
    Ok(match path {
        Some(path) => {
            let mut tree = Value::Object(Map::new());
            for file in config_files(path)? {
                let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::Read {
                    path: file.clone(),
                    reason: e.to_string(),
                })?;
                deep_merge(&mut tree, parse_document(&text, &file, warnings)?);
                files.push(file);
            }
            deep_merge(&mut tree, env::overlay(env));
            tree
        }
        None => match env.iter().find(|(k, _)| k == "PATRONI_CONFIGURATION") {
            // As in Patroni, the whole-YAML variable is taken as it is, without the overlay.
            Some((_, text)) => parse_document(text, Path::new("PATRONI_CONFIGURATION"), warnings)?,
            None => env::overlay(env),
        },
    })
}

/// Serde's messages name Rust types; say what the user wrote instead.
fn plain_message(message: String) -> String {
    let mut out = message;
    for (from, to) in [
        ("expected struct ", "expected a mapping ("),
        ("expected a map", "expected a mapping"),
        ("expected a sequence", "expected a list"),
    ] {
        if let Some(at) = out.find(from) {
            let tail = &out[at + from.len()..];
            out = if from.starts_with("expected struct") {
                format!(
                    "{}{to}{})",
                    &out[..at],
                    tail.split_whitespace().next().unwrap_or("")
                )
            } else {
                format!("{}{to}{tail}", &out[..at])
            };
        }
    }
    out.replace("expected a mapping (", "expected a mapping (section ")
}

/// Types and checks a merged configuration tree.
pub fn from_tree(tree: Value) -> Result<Loaded, ConfigError> {
    let can_bootstrap = tree.get("bootstrap").is_some() || tree.get("citus").is_some();
    let not_acted_on = crate::unimplemented::local_warnings(&tree);
    let tag_order: Vec<String> = tree
        .get("tags")
        .and_then(Value::as_object)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let mut ignored = Vec::new();
    let mut note_ignored = |path: serde_ignored::Path<'_>| ignored.push(path.to_string());
    let mut config: Config =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(tree, &mut note_ignored))
            .map_err(|e| {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                ConfigError::Invalid {
                    issues: vec![Issue::new(path, plain_message(e.into_inner().to_string()))],
                }
            })?;
    config.tags.written_order = tag_order;
    let mut findings = validate::check(&config);
    let mut warnings: Vec<String> = ignored
        .iter()
        .map(|p| validate::unknown_key_warning(p))
        .collect();
    warnings.append(&mut findings.warnings);
    warnings.extend(not_acted_on);
    let bootstrap_dynamic = match DynamicConfig::from_map(&config.bootstrap.dcs, "bootstrap.dcs") {
        Ok((dynamic, mut adjusted)) => {
            warnings.extend(adjusted.drain(..).map(|w| format!("bootstrap.dcs: {w}")));
            dynamic
        }
        Err(mut issues) => {
            findings.errors.append(&mut issues);
            DynamicConfig::default()
        }
    };
    if !findings.errors.is_empty() {
        return Err(ConfigError::Invalid {
            issues: findings.errors,
        });
    }
    Ok(Loaded {
        config,
        bootstrap_dynamic,
        can_bootstrap,
        warnings,
        files: Vec::new(),
    })
}
