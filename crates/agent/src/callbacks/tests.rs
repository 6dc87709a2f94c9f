use super::*;
use ferroni_ha::callbacks::Role;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Waits (with a deadline) until `probe` holds.
async fn until(what: &str, probe: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn pid_in(path: &Path) -> Option<i32> {
    read(path).trim().parse().ok()
}

/// Whether `pid` is a live process (not gone, not a zombie waiting for its new parent).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn make_executable(path: &Path) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Kills the process groups of the scripts `dir` recorded, so none outlives its test.
fn kill_scripts(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("pid-")
            && let Some(pid) = pid_in(&entry.path())
        {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// A script that records its pid, its child's pid and its arguments in `dir`, then waits for
/// its child, which sleeps `sleep` seconds.
fn script(dir: &Path, sleep: u32) -> PathBuf {
    let path = dir.join("cb.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nsleep {sleep} &\necho $! > {d}/child-$1\necho $$ > {d}/pid-$1\necho \"$*\" >> {d}/calls\nwait\necho \"done $*\" >> {d}/calls\n",
            d = dir.display()
        ),
    )
    .unwrap();
    make_executable(&path);
    path
}

/// A configuration of scope `demo` with these `postgresql` lines.
fn config(dir: &Path, postgresql: &str) -> Config {
    let path = dir.join("patroni.yml");
    std::fs::write(
        &path,
        format!(
            "scope: demo\nname: n1\netcd3:\n  hosts: 127.0.0.1:2379\nrestapi:\n  listen: 127.0.0.1:8008\n  connect_address: 127.0.0.1:8008\npostgresql:\n  listen: 127.0.0.1:5432\n  connect_address: 127.0.0.1:5432\n  data_dir: {}/data\n  authentication:\n    superuser:\n      username: postgres\n    replication:\n      username: replicator\n{postgresql}",
            dir.display()
        ),
    )
    .unwrap();
    ferroni_config::load(Some(&path), std::iter::empty::<(String, String)>())
        .unwrap()
        .config
}

/// Every callback, `pre_promote` and `before_stop` set to `command` (the last two with an
/// argument naming them).
fn callbacks(dir: &Path, command: &str) -> Callbacks {
    let lines = format!(
        "  callbacks:\n    on_start: {command}\n    on_stop: {command}\n    on_reload: {command}\n    on_role_change: {command}\n  pre_promote: {command} pre\n  before_stop: {command} before\n"
    );
    Callbacks::new(&config(dir, &lines))
}

/// Every script set to [`script`], whose child sleeps 30 s.
fn sleeping(d: &Path) -> Callbacks {
    let cmd = script(d, 30).display().to_string();
    callbacks(d, &cmd)
}

/// The pid `name` recorded (`pid-on_start`, `child-on_start`), once it did.
async fn recorded(d: &Path, name: &str) -> i32 {
    let path = d.join(name);
    until(name, || pid_in(&path).is_some()).await;
    pid_in(&path).unwrap_or_default()
}

#[tokio::test]
async fn a_new_callback_kills_the_running_one_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cb = sleeping(d);
    cb.changed(Change::Started {
        role: Role::Replica,
    });
    let first = recorded(d, "pid-on_start").await;
    let child = recorded(d, "child-on_start").await;
    assert!(alive(first) && alive(child));
    cb.changed(Change::Promoted);
    recorded(d, "pid-on_role_change").await;
    until("on_start and its child killed", || {
        !alive(first) && !alive(child)
    })
    .await;
    assert_eq!(
        read(&d.join("calls")),
        "on_start replica demo\non_role_change primary demo\n",
        "on_start never finished"
    );
    kill_scripts(d);
}

#[tokio::test]
async fn on_reload_runs_beside_the_shared_executor_and_replaces_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cb = sleeping(d);
    cb.changed(Change::Started {
        role: Role::Replica,
    });
    let start = recorded(d, "pid-on_start").await;
    cb.changed(Change::Reloaded);
    let reload = recorded(d, "pid-on_reload").await;
    assert!(alive(start), "on_reload killed on_start");
    // A second reload kills the first, and still not on_start.
    std::fs::remove_file(d.join("pid-on_reload")).unwrap();
    cb.changed(Change::Reloaded);
    until("the second on_reload", || {
        pid_in(&d.join("pid-on_reload")).is_some_and(|p| p != reload)
    })
    .await;
    until("the first on_reload killed", || !alive(reload)).await;
    assert!(alive(start), "on_reload killed on_start");
    kill_scripts(d);
}

#[tokio::test]
async fn a_callback_that_ends_leaves_its_background_children_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The script returns at once; its child sleeps on, as a daemon a user starts would.
    let path = d.join("bg.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nsleep 30 &\necho $! > {d}/child-$1\necho $$ > {d}/pid-$1\n",
            d = d.display()
        ),
    )
    .unwrap();
    make_executable(&path);
    let cb = callbacks(d, &path.display().to_string());
    cb.changed(Change::Started {
        role: Role::Primary,
    });
    let child = recorded(d, "child-on_start").await;
    let script = recorded(d, "pid-on_start").await;
    until("the script reaped", || {
        !Path::new(&format!("/proc/{script}")).exists()
    })
    .await;
    cb.changed(Change::Stopped { demote: None });
    let other = recorded(d, "child-on_stop").await;
    assert!(alive(child), "a finished callback's child was killed");
    for pid in [child, other] {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[tokio::test]
async fn arguments_are_the_split_command_then_action_role_scope() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("args");
    let path = d.join("args.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\" >> {}; done\n",
            out.display()
        ),
    )
    .unwrap();
    make_executable(&path);
    let lines = format!(
        "  callbacks:\n    on_start: \"{} 'one two' #three\"\n",
        path.display()
    );
    let cb = Callbacks::new(&config(d, &lines));
    cb.changed(Change::Bootstrapped);
    until("the callback", || read(&out).lines().count() == 5).await;
    assert_eq!(
        read(&out),
        "[one two]\n[#three]\n[on_start]\n[primary]\n[demo]\n"
    );
}

#[tokio::test]
async fn pre_promote_allows_only_on_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = callbacks(d, "/bin/true");
    assert!(ok.pre_promote().await);
    let refused = callbacks(d, "/bin/false");
    assert!(!refused.pre_promote().await);
    let missing = callbacks(d, &d.join("nowhere").display().to_string());
    assert!(
        !missing.pre_promote().await,
        "a script that cannot run refuses"
    );
    assert!(Callbacks::new(&config(d, "")).pre_promote().await);
}

#[tokio::test]
async fn a_cancelled_pre_promote_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cb = std::sync::Arc::new(sleeping(d));
    let waiting = tokio::spawn({
        let cb = cb.clone();
        async move { cb.pre_promote().await }
    });
    let (pid, child) = (recorded(d, "pid-pre").await, recorded(d, "child-pre").await);
    assert!(
        !waiting.is_finished(),
        "pre_promote did not wait for its script"
    );
    // The promotion task is cancelled (the lock was lost meanwhile).
    waiting.abort();
    until("pre_promote killed", || !alive(pid) && !alive(child)).await;
}

#[tokio::test]
async fn flush_returns_once_the_last_callback_started() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cb = sleeping(d);
    cb.changed(Change::Started {
        role: Role::Replica,
    });
    cb.changed(Change::Stopped { demote: None });
    cb.flush().await;
    assert_eq!(
        *cb.shared.started.borrow(),
        2,
        "on_stop was not started yet"
    );
    // Started: it runs on after the agent is gone.
    let stop = recorded(d, "pid-on_stop").await;
    assert!(alive(stop));
    drop(cb);
    // The executor sees its sender gone within a scheduling round; watch that window.
    let until = std::time::Instant::now() + Duration::from_millis(500);
    while std::time::Instant::now() < until {
        assert!(alive(stop), "on_stop was killed when the agent went away");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill_scripts(d);
}

#[tokio::test]
async fn an_aborted_bootstrap_ends_the_bootstrap_muting() {
    let dir = tempfile::tempdir().unwrap();
    let cb = Arc::new(sleeping(dir.path()));
    let end = cb.bootstrap_began();
    assert!(lock(&cb.memory).bootstrapping);
    // The task holding it is aborted: the guard is dropped without an outcome.
    drop(end);
    assert!(!lock(&cb.memory).bootstrapping);
    let end = cb.bootstrap_began();
    end.succeeded();
    assert!(!lock(&cb.memory).bootstrapping);
}
