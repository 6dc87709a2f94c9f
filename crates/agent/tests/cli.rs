//! The agent's command line, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/configs")
        .join(name)
}

fn ferroni(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferroni"))
        .args(args)
        .env_clear()
        .output()
        .expect("the ferroni binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `2026-11-23 10:31:47,082 LEVEL: message`
fn is_patroni_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 25
        && b[4] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[19] == b','
        && b[23] == b' '
        && line[24..].split_once(": ").is_some_and(|(level, _)| {
            ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level)
        })
}

#[test]
fn validate_config_accepts_every_complete_field_config() {
    for name in [
        "capdata-etcd2.yml",
        "dalibo-poc-etcd2.yml",
        "dalibo-poc-misindented.yml",
        "loxodata-etcd3-pgbackrest.yml",
        "otus-namespace-etcd2.yml",
    ] {
        let path = fixture(name);
        let out = ferroni(&["--validate-config", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).lines().all(is_patroni_line),
            "{name}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn validate_config_warns_about_misplaced_sections_by_name() {
    let path = fixture("dalibo-poc-misindented.yml");
    let out = ferroni(&["--validate-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    for key in ["initdb", "pg_hba", "users"] {
        assert!(
            err.contains(&format!("WARNING: {key} is ignored")),
            "no warning for {key}:\n{err}"
        );
    }
}

#[test]
fn validate_config_rejects_the_dcs_fragment_alone_and_accepts_it_in_a_directory() {
    let path = fixture("dalibo-workshop-dcs.yml");
    let out = ferroni(&["--validate-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for missing in [
        "name: is not defined",
        "scope: is not defined",
        "postgresql.data_dir: is not defined",
    ] {
        assert!(err.contains(missing), "{missing} not reported:\n{err}");
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&path, dir.path().join("dcs.yml")).unwrap();
    std::fs::write(
        dir.path().join("15-main.yml"),
        "scope: '15-main'\nname: pg1\nrestapi: {listen: '0.0.0.0:8008', connect_address: '10.0.0.5:8008'}\n\
         postgresql:\n  listen: '*:5432'\n  connect_address: '10.0.0.5:5432'\n  data_dir: /var/lib/postgresql/15/main\n\
         \x20 authentication:\n    replication: {username: replicator, password: r}\n    superuser: {username: postgres, password: s}\n",
    )
    .unwrap();
    let out = ferroni(&["--validate-config", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn validate_config_reports_broken_yaml_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yml");
    std::fs::write(&file, "scope: demo\nrestapi:\n  listen: [oops\n").unwrap();
    let out = ferroni(&["--validate-config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("broken.yml") && err.contains("(line "),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn generated_sample_config_validates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.yml");
    let out = ferroni(&["--generate-sample-config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let out = ferroni(&["--validate-config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let printed = ferroni(&["--generate-sample-config"]);
    assert_eq!(
        text(&printed.stdout),
        std::fs::read_to_string(&file).unwrap()
    );
}

#[test]
fn version_names_the_program() {
    let out = ferroni(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("ferroni {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn starting_says_what_it_would_start_and_logs_to_a_rotated_file_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let file = dir.path().join("p.yml");
    let base = std::fs::read_to_string(fixture("loxodata-etcd3-pgbackrest.yml")).unwrap();
    let with_dir = base.replace("dir: /var/log/patroni", &format!("dir: {}", logs.display()));
    std::fs::write(&file, &with_dir).unwrap();
    let out = ferroni(&["--dry-run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "with log.dir nothing goes to stderr");
    let log = std::fs::read_to_string(logs.join("patroni.log")).unwrap();
    assert!(log.lines().all(is_patroni_line), "{log}");
    assert!(
        log.contains("would start member pgdeb01 of cluster loxodemo"),
        "{log}"
    );
    assert!(!log.contains("azerty"), "a password was logged");

    // A tiny file_size forces a rotation on every run: patroni.log.1 appears, at most file_num kept.
    let tiny = with_dir
        .replace("file_size: 50000000", "file_size: 10")
        .replace("file_num: 10", "file_num: 2");
    std::fs::write(&file, tiny).unwrap();
    for _ in 0..4 {
        assert_eq!(
            ferroni(&["--dry-run", file.to_str().unwrap()])
                .status
                .code(),
            Some(0)
        );
    }
    assert!(logs.join("patroni.log.1").exists());
    assert!(!logs.join("patroni.log.3").exists());
}

#[test]
fn json_logs_carry_patronis_fields() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yml");
    let base = std::fs::read_to_string(fixture("otus-namespace-etcd2.yml")).unwrap();
    std::fs::write(
        &file,
        format!("{base}\nlog:\n  type: json\n  static_fields: {{app: ferroni}}\n"),
    )
    .unwrap();
    let out = ferroni(&["--dry-run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let first = stderr.lines().next().expect("a log line");
    let record: serde_json::Value = serde_json::from_str(first).expect("a JSON log line");
    assert_eq!(record["levelname"], "WARNING");
    assert_eq!(record["app"], "ferroni");
    assert!(record["asctime"].is_string() && record["message"].is_string());
}

#[test]
fn a_wrong_config_exits_1_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yml");
    let base = std::fs::read_to_string(fixture("otus-namespace-etcd2.yml")).unwrap();
    std::fs::write(&file, base.replace("ttl: 30", "ttl: thirty")).unwrap();
    let out = ferroni(&["--dry-run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bootstrap.dcs.ttl: 'thirty' is not an integer"),
        "{}",
        text(&out.stderr)
    );
}

/// Every key path of a YAML tree, sections included.
fn key_paths(tree: &serde_json::Value, prefix: &str, out: &mut Vec<(String, serde_json::Value)>) {
    if let serde_json::Value::Object(map) = tree {
        for (k, v) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.push((path.clone(), v.clone()));
            key_paths(v, &path, out);
        }
    }
}

#[test]
fn validate_config_names_every_key_it_does_not_act_on_once() {
    use ferroni_config::unimplemented::{DYNAMIC, LOCAL, Status, classify};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/configs");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 6, "{fixtures:?}");
    let mut named = Vec::new();
    for path in &fixtures {
        let source = std::fs::read_to_string(path).unwrap();
        let (tree, _) = ferroni_config::yaml::parse(&source).unwrap();
        let out = ferroni(&["--validate-config", path.to_str().unwrap()]);
        let err = text(&out.stderr);
        let mut keys = Vec::new();
        key_paths(&tree, "", &mut keys);
        // Every key the file sets, walked from the file itself; the table says what it is.
        for (key, value) in keys.iter().filter(|(_, v)| !v.is_null()) {
            let (table, relative) = match key.strip_prefix("bootstrap.dcs.") {
                Some(rest) => (DYNAMIC, rest),
                None => (LOCAL, key.as_str()),
            };
            let Some(row) = classify(table, relative) else {
                continue;
            };
            if row.path.split('.').count() != relative.split('.').count() {
                continue; // below a classified key: that key is the one named
            }
            let (warns, reason) = match row.status {
                Status::Ignored(reason) => (true, reason),
                Status::IgnoredUnless(harmless, _, reason) => {
                    (!harmless(key, value, &tree), reason)
                }
                Status::Honoured | Status::Moot(_) => continue,
            };
            let line = format!("WARNING: {key}: {reason}");
            let lines = err.lines().filter(|l| l.ends_with(&line)).count();
            assert_eq!(
                lines,
                usize::from(warns),
                "{}: {key} should be named {} time(s):\n{err}",
                path.display(),
                usize::from(warns)
            );
            if warns {
                named.push(format!(
                    "{}:{key}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    // What the field configurations rely on without Ferroni acting on it yet.
    for expected in [
        "loxodata-etcd3-pgbackrest.yml:postgresql.create_replica_methods",
        "loxodata-etcd3-pgbackrest.yml:log.dateformat",
        "loxodata-etcd3-pgbackrest.yml:log.loggers",
        "loxodata-etcd3-pgbackrest.yml:bootstrap.dcs.postgresql.recovery_conf",
    ] {
        assert!(
            named.iter().any(|n| n == expected),
            "{expected} not named: {named:?}"
        );
    }
}
