//! `ferroni-fence DATA_DIR`: the frozen-agent fence guard on its own (see `fence.rs`), started
//! by the agent. A separate small binary, so the guard's resident memory is a few hundred KB
//! rather than the pages of the whole agent.

#[path = "../fence/guard.rs"]
mod guard;

fn main() {
    let Some(data_dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: ferroni-fence DATA_DIR (started by the ferroni agent)");
        std::process::exit(2);
    };
    std::process::exit(guard::guard(std::path::Path::new(&data_dir)));
}
