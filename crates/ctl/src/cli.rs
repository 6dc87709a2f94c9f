//! patronictl's command line, parsed with clap, and the dispatch to the commands.

use crate::context::{CtlError, Ctx};
use crate::members::Format;
use crate::prompt::Aborted;
use crate::{actions, admin, deprecated, edit, read};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Manage a Ferroni or Patroni cluster (patronictl-compatible).
#[derive(Debug, Parser)]
#[command(name = "ferronictl", version)]
pub struct Args {
    /// Configuration file (default: $PATRONICTL_CONFIG_FILE, else ~/.config/patroni/patronictl.yaml).
    #[arg(short = 'c', long = "config-file", env = "PATRONICTL_CONFIG_FILE")]
    config_file: Option<PathBuf>,
    /// The DCS: `etcd3://host:port/namespace` (also `etcd://`).
    #[arg(short = 'd', long = "dcs-url", alias = "dcs", env = "DCS_URL")]
    dcs_url: Option<String>,
    /// Allow connections to SSL sites without certificates.
    #[arg(short = 'k', long)]
    insecure: bool,
    #[command(subcommand)]
    command: Command,
}

fn format_arg(text: &str) -> Result<Format, String> {
    Format::parse(text)
        .ok_or_else(|| format!("'{text}' is not one of 'pretty', 'tsv', 'json', 'yaml', 'yml'"))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the Patroni members for a given Patroni.
    List {
        cluster_names: Vec<String>,
        #[arg(long)]
        group: Option<i64>,
        /// Show some extra information.
        #[arg(short = 'e', long)]
        extended: bool,
        /// Print timestamp.
        #[arg(short = 't', long)]
        timestamp: bool,
        /// Output format.
        #[arg(short = 'f', long = "format", default_value = "pretty", value_parser = format_arg)]
        format: Format,
        /// Auto update the screen every 2 seconds.
        #[arg(short = 'W')]
        refresh: bool,
        /// Auto update the screen every X seconds.
        #[arg(short = 'w', long)]
        watch: Option<f64>,
    },
    /// Prints ASCII topology for given cluster.
    Topology {
        cluster_names: Vec<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(short = 'W')]
        refresh: bool,
        #[arg(short = 'w', long)]
        watch: Option<f64>,
    },
    /// Show the history of failovers/switchovers.
    History {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(short = 'f', long = "format", default_value = "pretty", value_parser = format_arg)]
        format: Format,
    },
    /// Show cluster configuration.
    ShowConfig {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
    },
    /// Generate a dsn for the provided member, defaults to a dsn of the leader.
    Dsn {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(short = 'r', long, value_parser = deprecated::role_parser())]
        role: Option<String>,
        #[arg(short = 'm', long)]
        member: Option<String>,
    },
    /// Output version of ferronictl command or a running Patroni/Ferroni process.
    Version {
        cluster_name: Option<String>,
        member_names: Vec<String>,
        #[arg(long)]
        group: Option<i64>,
    },
    /// Switchover to a replica.
    Switchover {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        /// The name of the current leader.
        #[arg(long, alias = "primary")]
        leader: Option<String>,
        /// `--leader`, as patronictl 3 spelled it.
        #[arg(long, hide = true, conflicts_with = "leader")]
        master: Option<String>,
        /// The name of the candidate.
        #[arg(long)]
        candidate: Option<String>,
        /// Timestamp of a scheduled switchover in unambiguous format (e.g. ISO 8601).
        #[arg(long)]
        scheduled: Option<String>,
        /// Do not ask for confirmation at any point.
        #[arg(long)]
        force: bool,
    },
    /// Failover to a replica.
    Failover {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(long, alias = "primary", hide = true)]
        leader: Option<String>,
        #[arg(long, hide = true, conflicts_with = "leader")]
        master: Option<String>,
        #[arg(long)]
        candidate: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// Restart cluster member.
    Restart {
        cluster_name: String,
        member_names: Vec<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(short = 'r', long, value_parser = deprecated::role_parser(), default_value = "any")]
        role: String,
        /// Restart cluster members with any role (same as --role any).
        #[arg(long)]
        any: bool,
        #[arg(long)]
        scheduled: Option<String>,
        /// Restart if the PostgreSQL version is less than provided (e.g. 9.5.2).
        #[arg(long = "pg-version")]
        pg_version: Option<String>,
        /// Restart if pending.
        #[arg(long)]
        pending: bool,
        /// Return error and fail over if necessary when restarting takes longer than this.
        #[arg(long)]
        timeout: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// Reload cluster member configuration.
    Reload {
        cluster_name: String,
        member_names: Vec<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(short = 'r', long, value_parser = deprecated::role_parser(), default_value = "any")]
        role: String,
        #[arg(long)]
        force: bool,
    },
    /// Reinitialize cluster member.
    Reinit {
        cluster_name: String,
        member_names: Vec<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(long)]
        force: bool,
        /// Get basebackup from leader.
        #[arg(long = "from-leader")]
        from_leader: bool,
        /// Wait until reinitialization completes.
        #[arg(long)]
        wait: bool,
    },
    /// Disable auto failover.
    Pause {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        /// Wait until pause is applied on all nodes.
        #[arg(long)]
        wait: bool,
    },
    /// Resume auto failover.
    Resume {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(long)]
        wait: bool,
    },
    /// Edit cluster configuration.
    EditConfig {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        /// Do not show changes.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Set specific configuration value. Can be specified multiple times.
        #[arg(short = 's', long = "set")]
        set: Vec<String>,
        /// Set specific PostgreSQL parameter value. Shorthand for -s postgresql.parameters.
        #[arg(short = 'p', long = "pg")]
        pg: Vec<String>,
        /// Apply configuration from file. Use - for stdin.
        #[arg(long)]
        apply: Option<String>,
        /// Apply configuration from file, replacing existing configuration. Use - for stdin.
        #[arg(long)]
        replace: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// Query a Patroni PostgreSQL member.
    Query {
        cluster_name: Option<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(long = "format", default_value = "tsv", value_parser = format_arg)]
        format: Format,
        #[arg(short = 'f', long)]
        file: Option<String>,
        #[arg(long)]
        password: bool,
        #[arg(short = 'U', long)]
        username: Option<String>,
        #[arg(short = 'r', long, value_parser = deprecated::role_parser())]
        role: Option<String>,
        #[arg(short = 'm', long)]
        member: Option<String>,
        #[arg(long, default_value = "\t")]
        delimiter: String,
        #[arg(short = 'c', long)]
        command: Option<String>,
        #[arg(short = 'd', long)]
        dbname: Option<String>,
    },
    /// Remove cluster from DCS.
    Remove {
        cluster_name: String,
        #[arg(long)]
        group: Option<i64>,
    },
    /// Discard scheduled events.
    Flush {
        cluster_name: String,
        /// Members, then the target: restart or switchover.
        #[arg(required = true, num_args = 1..)]
        args: Vec<String>,
        #[arg(long)]
        group: Option<i64>,
        #[arg(short = 'r', long, value_parser = deprecated::role_parser(), default_value = "any")]
        role: String,
        #[arg(long)]
        force: bool,
    },
}

/// `-W` means every 2 s.
fn watch_of(refresh: bool, watch: Option<f64>) -> Option<f64> {
    watch.or(refresh.then_some(2.0))
}

async fn dispatch(args: Args) -> Result<()> {
    if let Command::Version {
        cluster_name: None, ..
    } = &args.command
    {
        println!("ferronictl version {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    let ctx = Ctx::load(
        args.config_file.as_deref(),
        args.dcs_url.as_deref(),
        args.insecure,
    )?;
    match args.command {
        Command::List {
            cluster_names,
            extended,
            timestamp,
            format,
            refresh,
            watch,
            ..
        } => {
            read::list(
                &ctx,
                &cluster_names,
                extended,
                timestamp,
                format,
                watch_of(refresh, watch),
            )
            .await
        }
        Command::Topology {
            cluster_names,
            refresh,
            watch,
            ..
        } => {
            read::list(
                &ctx,
                &cluster_names,
                false,
                false,
                Format::Topology,
                watch_of(refresh, watch),
            )
            .await
        }
        Command::History {
            cluster_name,
            format,
            ..
        } => read::history(&ctx, cluster_name.as_deref(), format).await,
        Command::ShowConfig { cluster_name, .. } => {
            read::show_config(&ctx, cluster_name.as_deref()).await
        }
        Command::Dsn {
            cluster_name,
            role,
            member,
            ..
        } => {
            read::dsn(
                &ctx,
                cluster_name.as_deref(),
                role.as_deref(),
                member.as_deref(),
            )
            .await
        }
        Command::Version {
            cluster_name,
            member_names,
            ..
        } => read::version(&ctx, cluster_name.as_deref(), &member_names).await,
        Command::Switchover {
            cluster_name,
            leader,
            master,
            candidate,
            scheduled,
            force,
            ..
        } => {
            actions::switchover(
                &ctx,
                "switchover",
                cluster_name.as_deref(),
                deprecated::leader(leader, master),
                candidate,
                scheduled,
                force,
            )
            .await
        }
        Command::Failover {
            cluster_name,
            leader,
            master,
            candidate,
            force,
            ..
        } => {
            let leader = deprecated::leader(leader, master);
            let action = if leader.is_some() {
                "switchover"
            } else {
                "failover"
            };
            actions::switchover(
                &ctx,
                action,
                cluster_name.as_deref(),
                leader,
                candidate,
                None,
                force,
            )
            .await
        }
        Command::Restart {
            cluster_name,
            member_names,
            role,
            any,
            scheduled,
            pg_version,
            pending,
            timeout,
            force,
            ..
        } => {
            let role = if any { "any".to_string() } else { role };
            actions::restart(
                &ctx,
                &cluster_name,
                &member_names,
                &role,
                scheduled,
                pg_version,
                pending,
                timeout,
                force,
            )
            .await
        }
        Command::Reload {
            cluster_name,
            member_names,
            role,
            force,
            ..
        } => actions::reload(&ctx, &cluster_name, &member_names, &role, force).await,
        Command::Reinit {
            cluster_name,
            member_names,
            force,
            from_leader,
            wait,
            ..
        } => actions::reinit(&ctx, &cluster_name, &member_names, from_leader, wait, force).await,
        Command::Pause {
            cluster_name, wait, ..
        } => actions::pause(&ctx, cluster_name.as_deref(), true, wait).await,
        Command::Resume {
            cluster_name, wait, ..
        } => actions::pause(&ctx, cluster_name.as_deref(), false, wait).await,
        Command::EditConfig {
            cluster_name,
            quiet,
            set,
            pg,
            apply,
            replace,
            force,
            ..
        } => {
            let options = edit::EditOptions {
                quiet,
                set,
                pg,
                apply,
                replace,
                force,
            };
            edit::edit_config(&ctx, cluster_name.as_deref(), options).await
        }
        Command::Query {
            cluster_name,
            format,
            file,
            password,
            username,
            role,
            member,
            delimiter,
            command,
            dbname,
            ..
        } => {
            let options = admin::QueryOptions {
                command,
                file,
                role,
                member,
                username,
                password,
                dbname,
                delimiter,
                format,
            };
            admin::query(&ctx, cluster_name.as_deref(), options).await
        }
        Command::Remove { cluster_name, .. } => admin::remove(&ctx, &cluster_name).await,
        Command::Flush {
            cluster_name,
            mut args,
            role,
            force,
            ..
        } => {
            let target = args.pop().unwrap_or_default();
            if target != "restart" && target != "switchover" {
                return crate::context::fail(format!(
                    "Invalid value for '{{restart|switchover}}': '{target}' is not one of 'restart', 'switchover'"
                ));
            }
            actions::flush(&ctx, &cluster_name, &args, &target, &role, force).await
        }
    }
}

/// Parses the command line and runs it: exit 0, 1 with `Error: …` (or `Aborted!`), 2 on usage.
pub fn run() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Aborted>() => {
            println!();
            eprintln!("Aborted!");
            ExitCode::FAILURE
        }
        Err(e) => {
            match e.downcast_ref::<CtlError>() {
                Some(ctl) => eprintln!("Error: {ctl}"),
                None => eprintln!("Error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn patronictl_3_spellings_are_accepted() {
        let args = Args::try_parse_from(["ferronictl", "switchover", "--master", "n1", "--force"])
            .unwrap();
        assert!(
            matches!(&args.command, Command::Switchover { master: Some(m), leader: None, .. } if m == "n1")
        );
        let args = Args::try_parse_from(["ferronictl", "failover", "--master", "n1"]).unwrap();
        assert!(matches!(
            &args.command,
            Command::Failover {
                master: Some(_),
                ..
            }
        ));
        for command in ["reload", "restart", "flush"] {
            let mut argv = vec!["ferronictl", command, "demo", "-r", "master"];
            if command == "flush" {
                argv.push("restart");
            }
            let args = Args::try_parse_from(argv).unwrap();
            let role = match &args.command {
                Command::Reload { role, .. }
                | Command::Restart { role, .. }
                | Command::Flush { role, .. } => role.clone(),
                _ => String::new(),
            };
            assert_eq!(role, "primary", "{command}");
        }
        for command in ["dsn", "query"] {
            let args = Args::try_parse_from(["ferronictl", command, "--role", "master"]).unwrap();
            let role = match &args.command {
                Command::Dsn { role, .. } | Command::Query { role, .. } => role.clone(),
                _ => None,
            };
            assert_eq!(role.as_deref(), Some("primary"), "{command}");
        }
        // Both spellings at once, an unknown role: usage errors, and `master` is not listed.
        let both = ["ferronictl", "switchover", "--leader", "a", "--master", "b"];
        assert!(Args::try_parse_from(both).is_err());
        let err = Args::try_parse_from(["ferronictl", "reload", "demo", "-r", "boss"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "[possible values: leader, primary, standby-leader, replica, standby, any]"
            ),
            "{err}"
        );
    }

    #[test]
    fn global_options_come_before_the_command_as_in_patronictl() {
        let args = Args::try_parse_from([
            "ferronictl",
            "-c",
            "x.yml",
            "query",
            "-c",
            "select 1",
            "-d",
            "db",
        ])
        .unwrap();
        assert_eq!(
            args.config_file.as_deref(),
            Some(std::path::Path::new("x.yml"))
        );
        assert!(
            matches!(args.command, Command::Query { command: Some(c), dbname: Some(_), .. } if c == "select 1")
        );
    }
}
