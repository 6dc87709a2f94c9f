//! The moment a postmaster exits, without polling: a pidfd becomes readable when its process
//! ends, whoever its parent is (the agent may have been restarted under a running server).

use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Returns when process `pid` has exited (at once when it is already gone).
pub async fn exited(pid: i32) {
    match pidfd(pid) {
        // SAFETY: the pidfd is owned by the AsyncFd and stays open until it is dropped.
        Ok(fd) => match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(_) => poll(pid).await,
        },
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
        // A kernel before 5.3 has no pidfd_open.
        Err(_) => poll(pid).await,
    }
}

fn pidfd(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::other("pidfd out of range"))?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

async fn poll(pid: i32) {
    while kill(Pid::from_raw(pid), None).is_ok() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn returns_when_the_process_ends_and_at_once_when_it_is_gone() {
        let mut child = tokio::process::Command::new("sleep")
            .arg("0.3")
            .spawn()
            .expect("sleep starts");
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).expect("pid");
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), super::exited(pid))
            .await
            .expect("exit seen");
        assert!(started.elapsed() >= Duration::from_millis(250));
        let _ = child.wait().await;
        tokio::time::timeout(Duration::from_secs(1), super::exited(pid))
            .await
            .expect("a reaped process is gone at once");
    }
}
