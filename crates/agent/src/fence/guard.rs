//! The guard's side of the fence: a process with no dependency beyond std and nix (it is built as
//! its own small binary, `ferroni-fence`, so it adds little memory beside the agent). It reads
//! `arm <monotonic ms>` and `disarm` lines from the agent on stdin and kills the armed
//! postmaster when the moment passes.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

/// Milliseconds on CLOCK_MONOTONIC, shared by every process of the machine.
pub fn monotonic_ms() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| {
            u64::try_from(t.tv_sec()).unwrap_or(0) * 1000
                + u64::try_from(t.tv_nsec()).unwrap_or(0) / 1_000_000
        })
        .unwrap_or(0)
}

/// A process: PID and start time (`/proc/<pid>/stat` field 22), which together never repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Process {
    pid: i32,
    started: u64,
}

/// Field 22 (start time) and field 4 (parent) of `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(u64, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): field n is at index n - 3.
    Some((fields.get(19)?.parse().ok()?, fields.get(1)?.parse().ok()?))
}

/// The postmaster of `data_dir` now, from `postmaster.pid`.
fn postmaster(data_dir: &Path) -> Option<Process> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    let (started, _) = stat(pid)?;
    Some(Process { pid, started })
}

/// Kills `p` and its children if `p` still is that process: stop it first so it starts nothing
/// new, then kill its children (they would otherwise finish a commit in flight), then it.
fn kill(p: Process) -> bool {
    use nix::sys::signal::{Signal, kill as send};
    use nix::unistd::Pid;
    if stat(p.pid).map(|(s, _)| s) != Some(p.started) {
        return false;
    }
    let _ = send(Pid::from_raw(p.pid), Signal::SIGSTOP);
    let children: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|(_, parent)| parent == p.pid))
        .collect();
    for child in children {
        let _ = send(Pid::from_raw(child), Signal::SIGKILL);
    }
    let _ = send(Pid::from_raw(p.pid), Signal::SIGKILL);
    true
}

/// The guard's main: reads `arm <monotonic_ms>` and `disarm` lines on stdin; kills the armed
/// postmaster when the moment passes. Exits when disarmed and the agent is gone (stdin closed),
/// or after fencing.
pub fn guard(data_dir: &Path) -> i32 {
    guard_on(data_dir, std::io::stdin().as_fd())
}

/// What the agent said.
enum Order {
    Arm(u64),
    Disarm,
}

fn order(line: &[u8]) -> Order {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace();
    match (words.next(), words.next().and_then(|d| d.parse().ok())) {
        (Some("arm"), Some(deadline)) => Order::Arm(deadline),
        _ => Order::Disarm,
    }
}

/// [`guard`] reading its orders from `input`. One thread and a poll with the deadline as its
/// timeout: the guard touches little code, so it keeps few pages resident.
fn guard_on(data_dir: &Path, input: BorrowedFd<'_>) -> i32 {
    let mut armed: Option<(u64, Process)> = None;
    let mut agent_gone = false;
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let wait = match armed {
            Some((deadline, _)) => deadline.saturating_sub(monotonic_ms()),
            None if agent_gone => return 0,
            None => 3_600_000,
        };
        // Without the agent nothing can arrive any more: sleep to the deadline (a poll would
        // return at once, again and again).
        let readable = if agent_gone {
            std::thread::sleep(Duration::from_millis(wait));
            false
        } else {
            let mut fds = [PollFd::new(input, PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
            matches!(poll(&mut fds, timeout), Ok(n) if n > 0)
        };
        if readable {
            let mut buf = [0u8; 256];
            match nix::unistd::read(input, &mut buf) {
                Ok(0) => agent_gone = true,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(_) => agent_gone = true,
            }
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                armed = match order(&line) {
                    // The postmaster is read now, while the agent is alive and arming: a guard
                    // whose agent died never learns of a postmaster started later.
                    Order::Arm(deadline) => postmaster(data_dir)
                        .or(armed.map(|(_, p)| p))
                        .map(|p| (deadline, p)),
                    Order::Disarm => None,
                };
            }
            continue;
        }
        if let Some((deadline, p)) = armed
            && monotonic_ms() >= deadline
        {
            if kill(p) {
                eprintln!(
                    "ferroni fence: the agent did not renew the leader lock in time; killed postmaster {} and its children before the lease could expire",
                    p.pid
                );
            }
            return 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};
    use std::time::Instant;

    /// A stand-in postmaster: a sleeping process whose PID is in `postmaster.pid`.
    fn fake_postmaster(dir: &Path) -> Child {
        let child = Command::new("sleep").arg("60").spawn().unwrap();
        std::fs::write(dir.join("postmaster.pid"), format!("{}\n", child.id())).unwrap();
        child
    }

    #[test]
    fn an_armed_guard_whose_agent_is_gone_kills_at_the_deadline_without_spinning() {
        let dir = tempfile::tempdir().unwrap();
        let mut pm = fake_postmaster(dir.path());
        let deadline = monotonic_ms() + 300;
        let input = orders(&format!("arm {deadline}\n"));
        let started = Instant::now();
        let cpu_before = cpu_ms();
        assert_eq!(guard_on(dir.path(), input.as_fd()), 0);
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "{:?}",
            started.elapsed()
        );
        // Killed: waiting for it returns a signal, at once.
        let status = pm.wait().unwrap();
        assert!(!status.success());
        assert!(cpu_ms() - cpu_before < 150, "the guard spun while waiting");
    }

    #[test]
    fn a_disarmed_guard_exits_with_its_agent_and_kills_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut pm = fake_postmaster(dir.path());
        let input = orders(&format!("arm {}\ndisarm\n", monotonic_ms() + 100));
        // The guard returns once it has nothing left to do: had it killed, it would have first.
        assert_eq!(guard_on(dir.path(), input.as_fd()), 0);
        assert!(
            pm.try_wait().unwrap().is_none(),
            "the postmaster was killed"
        );
        let _ = pm.kill();
        let _ = pm.wait();
    }

    /// A pipe holding `text`, its writing end closed (the agent said this and is gone).
    fn orders(text: &str) -> std::os::fd::OwnedFd {
        let (read, write) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&write, text.as_bytes()).unwrap();
        read
    }

    /// CPU time of this process so far (user + system), in ms.
    fn cpu_ms() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().unwrap())
            .collect();
        (fields[0] + fields[1]) * 1000 / 100
    }
}
