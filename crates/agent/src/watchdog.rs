//! The Linux watchdog (`watchdog.mode`, `device`, `safety_margin`), as Patroni uses it: while
//! this node is a primary holding the lock, the device is open with a timeout of `ttl −
//! safety_margin` (`safety_margin: -1`: ttl/2) and pinged after every renewal, so a kernel or
//! agent that stops reboots the machine before the lease expires. It is closed with the magic
//! `V` (disarmed) when the node stops being a primary or the agent stops on purpose.
//!
//! `required`: a node whose device is missing or not writable, or whose device could not be
//! configured, does not race for the lock and steps down if it holds it (`Me::watchdog_failed`).
//! `automatic`: used when present, silently skipped otherwise. The fence guard (`fence.rs`) works
//! with or without it; the watchdog adds protection against a frozen kernel or a stopped guard.

use ferroni_config::schema::{Watchdog as Config, WatchdogMode};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

nix::ioctl_readwrite!(set_timeout, b'W', 6, nix::libc::c_int);
nix::ioctl_read!(get_timeout, b'W', 7, nix::libc::c_int);

/// The watchdog device and its state.
pub struct Watchdog {
    mode: WatchdogMode,
    device: PathBuf,
    safety_margin: i64,
    open: Option<File>,
    /// Activation failed (required mode: until the configuration changes).
    failed: bool,
}

impl Watchdog {
    pub fn new(config: &Config) -> Watchdog {
        let mut w = Watchdog {
            mode: WatchdogMode::Off,
            device: PathBuf::new(),
            safety_margin: 5,
            open: None,
            failed: false,
        };
        w.reconfigure(config);
        w
    }

    /// `required` and not usable: the device is missing or not writable (checked without opening
    /// it, which would start it), or activating it failed.
    pub fn failed(&self) -> bool {
        self.mode == WatchdogMode::Required
            && (self.failed
                || (self.open.is_none()
                    && nix::unistd::access(&self.device, nix::unistd::AccessFlags::W_OK).is_err()))
    }

    /// The timeout for a lease of `ttl` seconds.
    fn timeout(&self, ttl: u32) -> i64 {
        let ttl = i64::from(ttl);
        if self.safety_margin == -1 {
            ttl / 2
        } else {
            ttl - self.safety_margin
        }
    }

    /// After every renewal of the lock by this primary: activates the device the first time,
    /// pings it after.
    pub fn keepalive(&mut self, ttl: u32) {
        if self.mode == WatchdogMode::Off || self.failed {
            return;
        }
        if let Some(file) = self.open.as_mut() {
            if let Err(e) = file.write_all(b"1").and_then(|_| file.flush()) {
                tracing::error!("Error while sending keepalive: {e}");
            }
            return;
        }
        if self.mode == WatchdogMode::Automatic && !self.device.exists() {
            return;
        }
        match self.activate(self.timeout(ttl)) {
            Ok(timeout) => tracing::info!(
                "{} activated with {timeout} second timeout",
                self.device.display()
            ),
            Err(e) if self.mode == WatchdogMode::Required => {
                tracing::error!(
                    "Configuration requires watchdog, but watchdog could not be activated: {e}"
                );
                self.failed = true;
            }
            Err(e) => {
                tracing::warn!("watchdog {} not used: {e}", self.device.display());
                self.failed = true;
            }
        }
    }

    /// Opens the device and sets its timeout; on any failure the device is closed again.
    fn activate(&mut self, timeout: i64) -> Result<i64, String> {
        if timeout < 1 {
            return Err(format!(
                "the timeout {timeout} s (ttl − safety_margin) is too short"
            ));
        }
        let file = File::options()
            .write(true)
            .open(&self.device)
            .map_err(|e| format!("Can't open watchdog device: {e}"))?;
        let mut value = nix::libc::c_int::try_from(timeout).unwrap_or(nix::libc::c_int::MAX);
        // SAFETY: the fd is open for the call and `value` outlives it.
        let set = unsafe { set_timeout(file.as_raw_fd(), &mut value) };
        let actual = match set {
            Ok(_) => i64::from(value),
            Err(e) => {
                let mut current: nix::libc::c_int = 0;
                // SAFETY: as above.
                match unsafe { get_timeout(file.as_raw_fd(), &mut current) } {
                    Ok(_) => i64::from(current),
                    Err(_) => {
                        magic_close(file);
                        return Err(format!("cannot set the watchdog timeout: {e}"));
                    }
                }
            }
        };
        if actual > timeout || actual < 1 {
            magic_close(file);
            return Err(format!(
                "a safe watchdog timeout {timeout} could not be configured; watchdog timeout is {actual}"
            ));
        }
        self.open = Some(file);
        Ok(actual)
    }

    /// Stops the watchdog: no longer a primary, or stopping on purpose.
    pub fn disable(&mut self) {
        if let Some(file) = self.open.take() {
            magic_close(file);
        }
    }

    /// A new configuration (reload): a failed activation may succeed now.
    pub fn reconfigure(&mut self, config: &Config) {
        let mode = config.mode().unwrap_or(WatchdogMode::Off);
        let device = PathBuf::from(&config.device);
        if mode != self.mode || device != self.device {
            self.disable();
        }
        self.mode = mode;
        self.device = device;
        self.safety_margin = config.safety_margin.0;
        self.failed = false;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disable();
    }
}

/// Writes the magic `V` and closes: the driver stops the countdown (unless built `nowayout`).
fn magic_close(mut file: File) {
    if let Err(e) = file.write_all(b"V").and_then(|_| file.flush()) {
        tracing::error!("Error while disabling watchdog: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroni_config::flex::Int;
    use serde_json::Value;

    fn config(mode: &str, device: &std::path::Path) -> Config {
        Config {
            mode: Value::String(mode.into()),
            device: device.display().to_string(),
            safety_margin: Int(5),
            ..Config::default()
        }
    }

    #[test]
    fn a_required_watchdog_without_its_device_fails_and_automatic_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("watchdog");
        assert!(Watchdog::new(&config("required", &missing)).failed());
        let mut automatic = Watchdog::new(&config("automatic", &missing));
        automatic.keepalive(30);
        assert!(!automatic.failed());
        assert!(!Watchdog::new(&config("off", &missing)).failed());
    }

    #[test]
    fn a_device_whose_timeout_cannot_be_set_is_closed_with_the_magic_character() {
        // A regular file opens like a device but refuses the watchdog ioctls.
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().join("watchdog");
        std::fs::write(&device, "").unwrap();
        let mut required = Watchdog::new(&config("required", &device));
        assert!(
            !required.failed(),
            "a writable device is usable until tried"
        );
        required.keepalive(30);
        assert!(required.failed());
        assert_eq!(std::fs::read_to_string(&device).unwrap(), "V");
        // A reload clears the failure so the next renewal tries again.
        required.reconfigure(&config("required", &device));
        assert!(!required.failed());
    }

    #[test]
    fn the_timeout_leaves_the_safety_margin_before_the_lease_ends() {
        let dir = tempfile::tempdir().unwrap();
        let w = Watchdog::new(&config("required", dir.path()));
        assert_eq!(w.timeout(30), 25);
        let mut half = Watchdog::new(&config("required", dir.path()));
        half.safety_margin = -1;
        assert_eq!(half.timeout(30), 15);
    }
}
