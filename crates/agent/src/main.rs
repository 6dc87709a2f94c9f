//! `ferroni`: the agent (see the library's documentation).

fn main() -> std::process::ExitCode {
    ferroni::cli::run()
}
