//! `ferroni-sim --seeds N`: N seeded schedules of a three-member cluster, with the figures and
//! every violation; `--seed S` replays one schedule with each agent's log lines.

use clap::Parser;
use ferroni_sim::agents::Mutation;
use ferroni_sim::{Report, run_mutated, run_seeds};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Deterministic simulation of Ferroni clusters under seeded faults")]
struct Args {
    /// How many schedules to run (seeds 0..N, from --first).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Replay this one seed and print its trace (the agents' log lines and the faults).
    #[arg(long)]
    seed: Option<u64>,
    /// Break a rule on purpose, to see the oracle catch it.
    #[arg(long, value_enum)]
    mutation: Option<Mutation>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(seed) = args.seed {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_timer(SimTime)
            .with_target(false)
            .with_max_level(tracing::Level::DEBUG)
            .init();
        let report = run_mutated(seed, args.mutation);
        print_violations(&report);
        return if report.violations.is_empty() {
            println!(
                "seed {seed}: no violation ({} promotions, {} writes acknowledged, {} fenced, {} rewound)",
                report.promotions, report.acks, report.fenced, report.rewinds
            );
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let started = Instant::now();
    let mut faults: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut failed = Vec::new();
    let (mut promotions, mut fenced, mut rewinds) = (0, 0, 0);
    let (mut rejoined_rewound, mut rejoined_as_is) = (0, 0);
    for report in run_seeds(args.first..args.first + args.seeds, args.mutation) {
        let seed = report.seed;
        for (kind, n) in &report.faults {
            *faults.entry(kind).or_default() += n;
        }
        promotions += report.promotions;
        fenced += report.fenced;
        rewinds += report.rewinds;
        rejoined_rewound += report.former_primaries_rewound;
        rejoined_as_is += report.former_primaries_followed;
        if !report.violations.is_empty() {
            print_violations(&report);
            failed.push(seed);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{} schedules in {elapsed:.1} s ({:.1} per second); faults injected: {}; {promotions} promotions, {fenced} servers fenced, {rewinds} rewound; former primaries back as standbys: {rejoined_rewound} rewound first (past the fork), {rejoined_as_is} as they were; {} with violations{}",
        args.seeds,
        args.seeds as f64 / elapsed.max(1e-9),
        faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" (seeds {failed:?}; replay one with --seed)")
        }
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Log lines stamped with the simulated time (ms since the start of the schedule).
struct SimTime;

impl tracing_subscriber::fmt::time::FormatTime for SimTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{:>7} ms", ferroni_sim::sim_ms())
    }
}

fn print_violations(report: &Report) {
    for v in &report.violations {
        println!("seed {}: {v}", report.seed);
    }
}
