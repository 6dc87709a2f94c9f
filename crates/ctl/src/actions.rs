//! The commands that act through the members' REST API: `switchover`, `failover`, `restart`,
//! `reload`, `reinit`, `flush`, `pause`, `resume` — with patronictl's prompts, confirmations and
//! messages.

use crate::context::{Ctx, fail};
use crate::members::{self, Format};
use crate::progress::watch_while;
use crate::prompt::{ask, confirm};
use crate::read::{members_with_role, timestamp};
use anyhow::Result;
use ferroni_model::{Cluster, MemberKey};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const REQUEST: Duration = Duration::from_secs(30);

fn show(cluster: &Cluster, name: &str) {
    let colour = crate::progress::at_terminal();
    print!(
        "{}",
        members::render_with(cluster, name, false, Format::Pretty, colour)
    );
}

/// A schedule as patronictl reads it (`now` or empty: now), as ISO 8601 with the local zone when
/// none is given.
fn parse_scheduled(text: Option<&str>) -> Result<Option<String>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty() && *t != "now") else {
        return Ok(None);
    };
    if let Some((_, iso)) = ferroni_model::failover::parse_scheduled_at(text) {
        return Ok(Some(iso));
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, f)
            && let Some(local) = naive.and_local_timezone(chrono::Local).single()
        {
            return Ok(Some(local.to_rfc3339()));
        }
    }
    fail(format!(
        "Unable to parse scheduled timestamp ({text}). It should be in an unambiguous format (e.g. ISO 8601)"
    ))
}

fn paused(cluster: &Cluster) -> bool {
    cluster
        .config
        .as_ref()
        .and_then(|c| c.value.get("pause"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// `switchover` and `failover`.
#[allow(clippy::too_many_arguments)]
pub async fn switchover(
    ctx: &Ctx,
    action: &str,
    name: Option<&str>,
    leader: Option<String>,
    candidate: Option<String>,
    scheduled: Option<String>,
    force: bool,
) -> Result<()> {
    let name = ctx.cluster_name(name)?;
    let dcs = ctx.dcs(&name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    println!("Current cluster topology");
    show(&cluster, &name);
    let cluster_leader = cluster.leader_name().map(str::to_string);
    let mut leader = leader;
    if action == "switchover" {
        let Some(current) = &cluster_leader else {
            return fail("This cluster has no leader");
        };
        let chosen = match leader.take() {
            Some(l) => l,
            None if force => current.clone(),
            None => ask("Primary", Some(current))?,
        };
        if &chosen != current {
            return fail(format!(
                "Member {chosen} is not the leader of cluster {name}"
            ));
        }
        leader = Some(chosen);
    }
    let mut names: Vec<String> = cluster
        .members
        .iter()
        .filter(|m| Some(&m.name) != cluster_leader.as_ref() && !m.data.tag_true("nofailover"))
        .map(|m| m.name.clone())
        .collect();
    names.sort();
    if names.is_empty() {
        return fail(format!("No candidates found to {action} to"));
    }
    let candidate = match candidate {
        Some(c) => Some(c),
        None if force => None,
        None => {
            let shown = format!(
                "[{}]",
                names
                    .iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Some(ask(&format!("Candidate {shown}"), Some(""))?).filter(|c| !c.is_empty())
        }
    };
    if action == "failover" && candidate.is_none() {
        return fail("Failover could be performed only to a specific candidate");
    }
    if let Some(c) = &candidate
        && !names.contains(c)
    {
        if Some(c) == cluster_leader.as_ref() {
            return fail(format!(
                "Member {c} is already the leader of cluster {name}"
            ));
        }
        return fail(format!(
            "Member {c} does not exist in cluster {name} or is tagged as nofailover"
        ));
    }
    let mut scheduled_at = None;
    if action == "switchover" {
        let text = match scheduled {
            Some(s) => s,
            None if force => "now".into(),
            None => {
                let next_hour = (chrono::Local::now() + chrono::Duration::hours(1))
                    .format("%Y-%m-%dT%H:%M")
                    .to_string();
                ask(
                    &format!("When should the switchover take place (e.g. {next_hour} ) "),
                    Some("now"),
                )?
            }
        };
        scheduled_at = parse_scheduled(Some(&text))?;
        if scheduled_at.is_some() && paused(&cluster) {
            return fail("Can't schedule switchover in the paused state");
        }
    }
    if !force {
        let demote = cluster_leader
            .as_ref()
            .map(|l| format!(", demoting current leader {l}"))
            .unwrap_or_default();
        let question = match &scheduled_at {
            Some(at) => format!(
                "Are you sure you want to schedule switchover of cluster {name} at {at}{demote}?"
            ),
            None => format!("Are you sure you want to {action} cluster {name}{demote}?"),
        };
        if !confirm(&question)? {
            return fail(if scheduled_at.is_some() {
                format!("Aborting scheduled {action}")
            } else {
                format!("Aborting {action}")
            });
        }
    }
    let mut body = json!({"candidate": candidate});
    if action == "switchover" {
        body["leader"] = json!(leader);
    }
    if let Some(at) = &scheduled_at {
        body["scheduled_at"] = json!(at);
    }
    let target = cluster
        .leader_name()
        .and_then(|l| cluster.member(l))
        .or_else(|| candidate.as_deref().and_then(|c| cluster.member(c)));
    let client = ctx.http()?;
    let sent = match target {
        Some(member) => {
            let post = ctx.request(
                &client,
                member,
                "POST",
                action,
                Some(&body),
                Duration::from_secs(60),
            );
            watch_while(dcs.as_ref(), &name, Format::Pretty, post)
                .await
                .ok()
        }
        None => None,
    };
    match sent {
        Some((200 | 202, text)) => println!("{} {text}", timestamp(6)),
        Some((status, text)) => {
            let result = if text.to_lowercase().contains("status unknown") {
                "result unknown"
            } else {
                "failed"
            };
            let mut title = action.to_string();
            title[..1].make_ascii_uppercase();
            println!("{title} {result}, details: {status}, {text}");
            return Ok(());
        }
        None => {
            println!(
                "{} Could not {action} using Patroni api, falling back to DCS",
                timestamp(6)
            );
            let failover = ferroni_model::Failover {
                leader: leader.clone(),
                member: candidate.clone(),
                scheduled_at: scheduled_at.clone(),
            };
            dcs.set_failover(&failover, None).await?;
        }
    }
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    show(&cluster, &name);
    Ok(())
}

/// The members an action applies to (patronictl's `get_members`): named ones with `role`, or
/// all with `role`; shows the cluster unless forced.
fn pick<'a>(
    cluster: &'a Cluster,
    name: &str,
    names: &[String],
    role: &str,
    force: bool,
    action: &str,
) -> Result<Vec<&'a MemberKey>> {
    let members = members_with_role(cluster, role);
    if !force || role != "any" {
        if names.is_empty() && members.is_empty() {
            return fail(format!("{name} cluster doesn't have any members"));
        }
        show(cluster, name);
    }
    let mut chosen: Vec<String> = if names.is_empty() {
        if action == "reinitialize" {
            Vec::new()
        } else {
            members.iter().map(|m| m.name.clone()).collect()
        }
    } else {
        let found: Vec<String> = names
            .iter()
            .filter(|n| members.iter().any(|m| &&m.name == n))
            .cloned()
            .collect();
        if found.is_empty() {
            return fail(format!("No '{role}' among provided members"));
        }
        found
    };
    if chosen.is_empty() && !force {
        let all: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        chosen = vec![ask(
            &format!("Which member do you want to {action} [{}]?", all.join(", ")),
            Some(""),
        )?];
    }
    for c in &chosen {
        if !members.iter().any(|m| &m.name == c) {
            return fail(format!("{c} is not a member of cluster"));
        }
    }
    Ok(members
        .into_iter()
        .filter(|m| chosen.contains(&m.name))
        .collect())
}

fn confirm_members(
    members: &[&MemberKey],
    force: bool,
    action: &str,
    scheduled: Option<&str>,
    pending: bool,
) -> Result<()> {
    if force {
        return Ok(());
    }
    let list = members
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (question, abort) = match scheduled {
        Some(_) if pending => (
            "The nodes needing a restart will be identified at the scheduled time, and might be different from the ones showing pending restart right now. Is this fine?".to_string(),
            format!("Aborted scheduled {action}"),
        ),
        Some(at) => (
            format!("Are you sure you want to schedule {action} of members {list} at {at}?"),
            format!("Aborted scheduled {action}"),
        ),
        None => (
            format!("Are you sure you want to {action} members {list}?"),
            format!("Aborted {action}"),
        ),
    };
    if !confirm(&question)? {
        return fail(abort);
    }
    Ok(())
}

/// `reload`.
pub async fn reload(
    ctx: &Ctx,
    name: &str,
    names: &[String],
    role: &str,
    force: bool,
) -> Result<()> {
    let dcs = ctx.dcs(name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let members = pick(&cluster, name, names, role, force, "reload")?;
    confirm_members(&members, force, "reload", None, false)?;
    let client = ctx.http()?;
    let loop_wait = cluster
        .config
        .as_ref()
        .and_then(|c| c.value.get("loop_wait"))
        .and_then(Value::as_u64)
        .unwrap_or(10);
    for m in members {
        match ctx
            .request(&client, m, "POST", "reload", None, REQUEST)
            .await
        {
            Ok((200, _)) => println!("No changes to apply on member {}", m.name),
            Ok((202, _)) => println!(
                "Reload request received for member {} and will be processed within {loop_wait} seconds",
                m.name
            ),
            Ok((status, text)) => println!(
                "Failed: reload for member {}, status code={status}, ({text})",
                m.name
            ),
            Err(e) => println!("Failed: reload for member {}, status code=0, ({e})", m.name),
        }
    }
    Ok(())
}

/// `restart`.
#[allow(clippy::too_many_arguments)]
pub async fn restart(
    ctx: &Ctx,
    name: &str,
    names: &[String],
    role: &str,
    scheduled: Option<String>,
    pg_version: Option<String>,
    pending: bool,
    timeout: Option<String>,
    force: bool,
) -> Result<()> {
    let dcs = ctx.dcs(name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let members = pick(&cluster, name, names, role, force, "restart")?;
    let scheduled = match scheduled {
        Some(s) => Some(s),
        None if force => None,
        None => {
            let next_hour = (chrono::Local::now() + chrono::Duration::hours(1))
                .format("%Y-%m-%dT%H:%M")
                .to_string();
            Some(ask(
                &format!("When should the restart take place (e.g. {next_hour}) "),
                Some("now"),
            )?)
        }
    };
    let scheduled_at = parse_scheduled(scheduled.as_deref())?;
    let mut body = serde_json::Map::new();
    if pending {
        body.insert("restart_pending".into(), json!(true));
    }
    if let Some(v) = &pg_version {
        if ferroni_api::requests::version_number(v).is_none() {
            return fail(format!(
                "Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: {v}"
            ));
        }
        body.insert("postgres_version".into(), json!(v));
    }
    if let Some(t) = &timeout {
        body.insert("timeout".into(), json!(t));
    }
    if let Some(at) = &scheduled_at {
        if paused(&cluster) {
            return fail("Can't schedule restart in the paused state");
        }
        body.insert("schedule".into(), json!(at));
    }
    confirm_members(&members, force, "restart", scheduled_at.as_deref(), pending)?;
    let client = ctx.http()?;
    let body = Value::Object(body);
    for m in members {
        if pending && m.data.pending_restart != Some(true) {
            continue;
        }
        let post = ctx.request(
            &client,
            m,
            "POST",
            "restart",
            Some(&body),
            Duration::from_secs(600),
        );
        match watch_while(dcs.as_ref(), name, Format::Pretty, post).await {
            Ok((200, _)) => println!("Success: restart on member {}", m.name),
            Ok((202, _)) => println!("Success: restart scheduled on member {}", m.name),
            Ok((409, _)) => println!(
                "Failed: another restart is already scheduled on member {}",
                m.name
            ),
            Ok((status, text)) => println!(
                "Failed: restart for member {}, status code={status}, ({text})",
                m.name
            ),
            Err(e) => println!(
                "Failed: restart for member {}, status code=0, ({e})",
                m.name
            ),
        }
    }
    Ok(())
}

/// `reinit`.
pub async fn reinit(
    ctx: &Ctx,
    name: &str,
    names: &[String],
    from_leader: bool,
    wait: bool,
    force: bool,
) -> Result<()> {
    let dcs = ctx.dcs(name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let members = pick(&cluster, name, names, "replica", force, "reinitialize")?;
    confirm_members(&members, force, "reinitialize", None, false)?;
    let client = ctx.http()?;
    let mut started = Vec::new();
    for m in members {
        let mut body = json!({"force": force, "from_leader": from_leader});
        let mut answer = ctx
            .request(&client, m, "POST", "reinitialize", Some(&body), REQUEST)
            .await;
        if let Ok((503, text)) = &answer
            && text.ends_with("already in progress")
            && !force
            && confirm("Do you want to cancel it and reinitialize anyway?")?
        {
            body["force"] = json!(true);
            answer = ctx
                .request(&client, m, "POST", "reinitialize", Some(&body), REQUEST)
                .await;
        }
        match answer {
            Ok((200, _)) => {
                println!("Success: reinitialize for member {}", m.name);
                started.push(m);
            }
            Ok((status, text)) => println!(
                "Failed: reinitialize for member {}, status code={status}, ({text})",
                m.name
            ),
            Err(e) => println!(
                "Failed: reinitialize for member {}, status code=0, ({e})",
                m.name
            ),
        }
    }
    if wait && !started.is_empty() {
        let names: Vec<&str> = started.iter().map(|m| m.name.as_str()).collect();
        println!(
            "Waiting for reinitialize to complete on: {}",
            names.join(", ")
        );
        let mut waiting = started;
        let deadline = Instant::now() + Duration::from_secs(3600);
        // Bounded: at most an hour, polling every second.
        while !waiting.is_empty() && Instant::now() < deadline {
            let second = tokio::time::sleep(Duration::from_secs(1));
            watch_while(dcs.as_ref(), name, Format::Pretty, second).await;
            let mut still = Vec::new();
            for m in waiting {
                let state = ctx
                    .request(&client, m, "GET", "patroni", None, Duration::from_secs(5))
                    .await
                    .ok()
                    .and_then(|(_, b)| serde_json::from_str::<Value>(&b).ok())
                    .and_then(|s| s["state"].as_str().map(str::to_string));
                if matches!(state.as_deref(), Some("running")) {
                    println!("Reinitialize is completed on: {}", m.name);
                } else {
                    still.push(m);
                }
            }
            waiting = still;
        }
    }
    Ok(())
}

/// `flush CLUSTER [MEMBERS…] restart|switchover`.
pub async fn flush(
    ctx: &Ctx,
    name: &str,
    names: &[String],
    target: &str,
    role: &str,
    force: bool,
) -> Result<()> {
    let dcs = ctx.dcs(name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let client = ctx.http()?;
    if target == "restart" {
        for m in pick(&cluster, name, names, role, force, "flush")? {
            if m.data.scheduled_restart.is_none() {
                println!("No scheduled restart for member {}", m.name);
                continue;
            }
            match ctx
                .request(&client, m, "DELETE", "restart", None, REQUEST)
                .await
            {
                Ok((200, _)) => println!("Success: flush scheduled restart for member {}", m.name),
                Ok((status, text)) => println!(
                    "Failed: flush scheduled restart for member {}, status code={status}, ({text})",
                    m.name
                ),
                Err(e) => println!(
                    "Failed: flush scheduled restart for member {}, status code=0, ({e})",
                    m.name
                ),
            }
        }
        return Ok(());
    }
    if cluster
        .failover
        .as_ref()
        .is_none_or(|f| f.value.scheduled_at.is_none())
    {
        println!("No pending scheduled switchover");
        return Ok(());
    }
    let mut order: Vec<&MemberKey> = members_with_role(&cluster, "leader");
    order.extend(members_with_role(&cluster, "replica"));
    for m in order {
        match ctx
            .request(&client, m, "DELETE", "switchover", None, REQUEST)
            .await
        {
            Ok((200 | 404, text)) => {
                println!("Success: {text}");
                return Ok(());
            }
            Ok((status, text)) => {
                println!("Failed: member={}, status_code={status}, ({text})", m.name);
                return Ok(());
            }
            Err(_) => eprintln!("Member {} is not accessible", m.name),
        }
    }
    println!(
        "{} Could not find any accessible member of cluster {name}",
        timestamp(6)
    );
    dcs.set_failover(&ferroni_model::Failover::default(), None)
        .await?;
    Ok(())
}

/// `pause` / `resume`.
pub async fn pause(ctx: &Ctx, name: Option<&str>, pause: bool, wait: bool) -> Result<()> {
    let name = ctx.cluster_name(name)?;
    let dcs = ctx.dcs(&name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    if paused(&cluster) == pause {
        return fail(format!(
            "Cluster is {} paused",
            if pause { "already" } else { "not" }
        ));
    }
    let client = ctx.http()?;
    let mut order: Vec<&MemberKey> = members_with_role(&cluster, "leader");
    order.extend(members_with_role(&cluster, "replica"));
    let body = json!({"pause": if pause { json!(true) } else { Value::Null }});
    let word = if pause { "paused" } else { "resumed" };
    for m in order {
        match ctx
            .request(&client, m, "PATCH", "config", Some(&body), REQUEST)
            .await
        {
            Ok((200, _)) => {
                if wait {
                    println!(
                        "'{}' request sent, waiting until it is recognized by all nodes",
                        if pause { "pause" } else { "resume" }
                    );
                    let deadline = Instant::now() + Duration::from_secs(60);
                    // Bounded: a minute, polling the member keys every second.
                    loop {
                        let second = tokio::time::sleep(Duration::from_secs(1));
                        watch_while(dcs.as_ref(), &name, Format::Pretty, second).await;
                        let c = ctx.cluster(dcs.as_ref()).await?;
                        let left = c
                            .members
                            .iter()
                            .filter(|m| m.data.pause.unwrap_or(false) != pause)
                            .count();
                        if left == 0 {
                            break;
                        }
                        if Instant::now() > deadline {
                            println!(
                                "{left} members didn't recognized pause state after 60 seconds"
                            );
                            return Ok(());
                        }
                    }
                }
                println!("Success: cluster management is {word}");
                return Ok(());
            }
            Ok((status, text)) => {
                println!(
                    "Failed: {} cluster management status code={status}, ({text})",
                    if pause { "pause" } else { "resume" }
                );
                return Ok(());
            }
            Err(_) => eprintln!("Member {} is not accessible", m.name),
        }
    }
    fail("Can not find accessible cluster member")
}
