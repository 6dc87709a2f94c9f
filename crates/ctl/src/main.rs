//! `ferronictl`: see the library's documentation.

fn main() -> std::process::ExitCode {
    ferronictl::cli::run()
}
