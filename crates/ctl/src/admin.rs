//! `remove` (wipe a cluster's keys after three confirmations) and `query` (run SQL on a member).

use crate::context::{Ctx, fail};
use crate::members::{self, Format};
use crate::prompt::ask;
use crate::read::{members_with_role, timestamp};
use anyhow::Result;

/// `remove CLUSTER`.
pub async fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    let dcs = ctx.dcs(name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    print!("{}", members::render(&cluster, name, false, Format::Pretty));
    if ask("Please confirm the cluster name to remove", None)? != name {
        return fail("Cluster names specified do not match");
    }
    let phrase = "Yes I am aware";
    let typed = ask(
        &format!(
            "You are about to remove all information in DCS for {name}, please type: \"{phrase}\""
        ),
        None,
    )?;
    if typed != phrase {
        return fail(format!("You did not exactly type \"{phrase}\""));
    }
    if let Some(leader) = cluster.leader_name() {
        let given = ask(
            "This cluster currently is healthy. Please specify the leader name to continue",
            None,
        )?;
        if given != leader {
            return fail("You did not specify the current leader of the cluster");
        }
    }
    dcs.delete_cluster().await?;
    Ok(())
}

/// The options of `query`.
pub struct QueryOptions {
    pub command: Option<String>,
    pub file: Option<String>,
    pub role: Option<String>,
    pub member: Option<String>,
    pub username: Option<String>,
    pub password: bool,
    pub dbname: Option<String>,
    pub delimiter: String,
    pub format: Format,
}

/// `query`: runs the statement on the leader (or a member with `role`, or `member`) and prints
/// the rows (tab-separated by default), or `<time>\tERROR, SQLSTATE: <message>`.
pub async fn query(ctx: &Ctx, name: Option<&str>, o: QueryOptions) -> Result<()> {
    let sql = match (&o.command, &o.file) {
        (Some(_), Some(_)) => return fail("--file and --command are mutually exclusive options"),
        (Some(c), None) => c.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)?,
        (None, None) => return fail("You need to specify either --command or --file"),
    };
    if o.role.is_some() && o.member.is_some() {
        return fail("--role and --member are mutually exclusive options");
    }
    let name = ctx.cluster_name(name)?;
    let dcs = ctx.dcs(&name).await?;
    let cluster = ctx.cluster(dcs.as_ref()).await?;
    let member = match &o.member {
        Some(m) => cluster.members.iter().find(|k| &k.name == m),
        None => members_with_role(&cluster, o.role.as_deref().unwrap_or("leader"))
            .into_iter()
            .next(),
    };
    let Some((host, port)) = member.and_then(|m| m.data.host_port()) else {
        return fail("Can not find a suitable member");
    };
    let user = o
        .username
        .clone()
        .or_else(|| std::env::var("PGUSER").ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "postgres".into());
    let password = if o.password {
        Some(ask("Password", None)?)
    } else {
        std::env::var("PGPASSWORD").ok()
    };
    let credentials = ferroni_pg::connect::Credentials {
        username: user.clone(),
        password: password.map(ferroni_config::Secret::new),
        libpq: ferroni_pg::connect::LibpqOptions::from_env(),
    };
    let endpoint = ferroni_pg::connect::Endpoint { host, port };
    let target = ferroni_pg::connect::Target {
        credentials: &credentials,
        endpoint: &endpoint,
        dbname: o.dbname.as_deref().unwrap_or(&user),
        application_name: "Patroni ctl",
    };
    let rows = match target.connect(std::time::Duration::from_secs(5)).await {
        Ok(client) => client.simple_query(&sql).await.map_err(QueryError::Sql),
        Err(e) => Err(QueryError::Connect(e)),
    };
    let messages = match rows {
        Ok(m) => m,
        Err(e) => {
            let detail = match e {
                QueryError::Sql(e) => e
                    .as_db_error()
                    .map(|d| format!("{}: {}", d.severity(), d.message()))
                    .unwrap_or_else(|| e.to_string()),
                QueryError::Connect(e) => e.to_string(),
            };
            println!("{}{}ERROR, SQLSTATE: {detail}", timestamp(0), o.delimiter);
            return Ok(());
        }
    };
    let mut header: Option<Vec<String>> = None;
    let mut data: Vec<Vec<String>> = Vec::new();
    for m in messages {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
            if header.is_none() {
                header = Some(row.columns().iter().map(|c| c.name().to_string()).collect());
            }
            data.push(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("None").to_string())
                    .collect(),
            );
        }
    }
    let header = header.unwrap_or_default();
    let columns: Vec<&str> = header.iter().map(String::as_str).collect();
    let cells: Vec<Vec<serde_json::Value>> = data
        .iter()
        .map(|r| r.iter().map(|v| serde_json::json!(v)).collect())
        .collect();
    match crate::output::machine(&columns, &cells, o.format, &o.delimiter, false) {
        Some(out) => print!("{out}"),
        None => {
            let mut table = crate::table::Table::new("", &columns);
            table.rows = data;
            print!("{}", table.render());
        }
    }
    Ok(())
}

/// Why `query` got no rows: the connection, or the statement.
enum QueryError {
    Connect(ferroni_pg::local::PgError),
    Sql(tokio_postgres::Error),
}
