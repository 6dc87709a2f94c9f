//! The read-only commands: `list`, `topology`, `history`, `show-config`, `dsn`, `version`.

use crate::context::{Ctx, fail};
use crate::members::{self, Format};
use crate::views;
use anyhow::Result;
use ferroni_model::{Cluster, MemberKey};
use std::time::Duration;

/// `YYYY-MM-DD HH:MM:SS` (`-t`), or with microseconds cut as patronictl cuts them.
pub fn timestamp(precision: usize) -> String {
    let full = chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    // Python: strftime('%Y-%m-%d %H:%M:%S.%f')[:precision - 7]
    let keep = full.len().saturating_sub(7 - precision.min(7));
    full[..keep].to_string()
}

/// `list` / `topology`, once or every `watch` seconds.
pub async fn list(
    ctx: &Ctx,
    names: &[String],
    extended: bool,
    ts: bool,
    fmt: Format,
    watch: Option<f64>,
) -> Result<()> {
    let names: Vec<String> = if names.is_empty() {
        match ctx.cluster_name(None) {
            Ok(n) => vec![n],
            Err(_) => {
                eprintln!("Listing members: No cluster names were provided");
                return Ok(());
            }
        }
    } else {
        names.to_vec()
    };
    let mut dcs = Vec::new();
    for name in &names {
        dcs.push((name.clone(), ctx.dcs(name).await?));
    }
    // Bounded by the user: `-w`/`-W` run until interrupted, as patronictl's.
    loop {
        let mut out = String::new();
        if watch.is_some() {
            out.push_str("\x1b[2J\x1b[H");
        }
        if ts {
            out.push_str(&timestamp(0));
            out.push('\n');
        }
        for (name, d) in &dcs {
            let cluster = ctx.cluster(d.as_ref()).await?;
            out.push_str(&members::render_with(
                &cluster,
                name,
                extended,
                fmt,
                crate::progress::at_terminal(),
            ));
        }
        print!("{out}");
        match watch {
            Some(seconds) => tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.1))).await,
            None => return Ok(()),
        }
    }
}

/// `history`.
pub async fn history(ctx: &Ctx, name: Option<&str>, fmt: Format) -> Result<()> {
    let name = ctx.cluster_name(name)?;
    let dcs = ctx.dcs(&name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    print!("{}", views::history(&cluster, fmt));
    Ok(())
}

/// `show-config`.
pub async fn show_config(ctx: &Ctx, name: Option<&str>) -> Result<()> {
    let name = ctx.cluster_name(name)?;
    let dcs = ctx.dcs(&name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    print!("{}", views::show_config(&cluster));
    Ok(())
}

/// The members with `role` (`leader`/`primary`, `standby-leader`, `replica`/`standby`, `any`).
pub fn members_with_role<'a>(cluster: &'a Cluster, role: &str) -> Vec<&'a MemberKey> {
    let leader = cluster.leader_name();
    cluster
        .members
        .iter()
        .filter(|m| {
            let is_leader = Some(m.name.as_str()) == leader;
            match role {
                "leader" | "primary" => is_leader && m.data.role != "standby_leader",
                "standby-leader" => is_leader && m.data.role == "standby_leader",
                "replica" | "standby" => !is_leader,
                _ => true,
            }
        })
        .collect()
}

/// `dsn`: `host=… port=…` of the leader, of a member with `role`, or of `member`.
pub async fn dsn(
    ctx: &Ctx,
    name: Option<&str>,
    role: Option<&str>,
    member: Option<&str>,
) -> Result<()> {
    if role.is_some() && member.is_some() {
        return fail("--role and --member are mutually exclusive options");
    }
    let name = ctx.cluster_name(name)?;
    let dcs = ctx.dcs(&name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let candidates: Vec<&MemberKey> = match member {
        Some(m) => cluster.members.iter().filter(|k| k.name == m).collect(),
        None => members_with_role(&cluster, role.unwrap_or("leader")),
    };
    let Some((host, port)) = candidates.first().and_then(|m| m.data.host_port()) else {
        return fail("Can not find a suitable member");
    };
    println!("host={host} port={port}");
    Ok(())
}

/// `version [CLUSTER [MEMBERS…]]`: ferronictl's version, then each member's from `/patroni`.
pub async fn version(ctx: &Ctx, name: Option<&str>, names: &[String]) -> Result<()> {
    println!("ferronictl version {}", env!("CARGO_PKG_VERSION"));
    let Some(name) = name else {
        return Ok(());
    };
    println!();
    let dcs = ctx.dcs(name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let client = ctx.http()?;
    for m in cluster
        .members
        .iter()
        .filter(|m| names.is_empty() || names.contains(&m.name))
    {
        let answer = ctx
            .request(&client, m, "GET", "patroni", None, Duration::from_secs(5))
            .await
            .and_then(|(_, body)| Ok(serde_json::from_str::<serde_json::Value>(&body)?));
        match answer {
            Ok(status) => {
                let version = status["patroni"]["version"].as_str().unwrap_or("unknown");
                let pg = status["server_version"]
                    .as_u64()
                    .map(|v| format!(" PostgreSQL {}.{}", v / 10_000, v % 10_000))
                    .unwrap_or_default();
                println!("{}: Patroni {version}{pg}", m.name);
            }
            Err(e) => println!("{}: failed to get version: {e}", m.name),
        }
    }
    Ok(())
}
