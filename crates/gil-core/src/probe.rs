//! How busy this machine is right now, so a lesson can tell a GIL effect from a busy laptop.
//!
//! On Linux the probe reads `/proc/stat` twice, 150 ms apart: the share of CPU time that was
//! idle in between, times the core count, is how many cores were free. Elsewhere it says it
//! could not tell rather than guess.

use std::fmt;
use std::time::Duration;

use crate::measure;

/// How long [`sample`] watches the machine.
const WINDOW: Duration = Duration::from_millis(150);

/// Cores, and how many of them were free while the probe watched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MachineLoad {
    /// Cores this process may use (`std::thread::available_parallelism`).
    pub cores: usize,
    /// Cores' worth of CPU time that nobody used during the probe (0.0 ..= cores).
    pub free: f64,
    /// Whether `free` was measured (false: the platform gave no figures, `free` = `cores`).
    pub known: bool,
}

/// Watch the machine for a moment and say how many cores are free.
pub fn sample() -> MachineLoad {
    let cores = measure::cores();
    let measured = cpu_times().and_then(|before| {
        std::thread::sleep(WINDOW);
        let after = cpu_times()?;
        let total = after.total.checked_sub(before.total)?;
        let idle = after.idle.checked_sub(before.idle)?;
        (total > 0).then(|| idle as f64 / total as f64)
    });
    match measured {
        // /proc/stat covers every CPU of the machine; scale to the ones we may use.
        Some(idle_share) => MachineLoad {
            cores,
            free: (idle_share * cores as f64).clamp(0.0, cores as f64),
            known: true,
        },
        None => MachineLoad {
            cores,
            free: cores as f64,
            known: false,
        },
    }
}

impl MachineLoad {
    /// Cores' worth of CPU that other programs were using.
    pub fn busy(&self) -> f64 {
        (self.cores as f64 - self.free).max(0.0)
    }

    /// The most likely reason a live figure missed its simulated expectation, in one sentence.
    pub fn likely_cause(&self) -> String {
        let n = self.cores;
        if !self.known {
            format!("this platform does not report CPU load, so the cause is unknown ({n} cores)")
        } else if self.busy() >= 0.5 {
            format!(
                "other programs were using about {:.1} of this machine's {n} cores",
                self.busy()
            )
        } else if n == 1 {
            "this machine has one core, so threads can never run at the same time".to_owned()
        } else {
            format!(
                "the machine looked idle ({:.1} of {n} cores free), so the figure probably \
                 swung by chance: a short run, a timer tick, a CPU changing speed",
                self.free
            )
        }
    }
}

impl fmt::Display for MachineLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cores = match self.cores {
            1 => "1 core".to_owned(),
            n => format!("{n} cores"),
        };
        if self.known {
            write!(
                f,
                "this machine: {cores}, about {:.1} free right now",
                self.free
            )
        } else {
            write!(f, "this machine: {cores} (free cores unknown)")
        }
    }
}

/// Bytes of memory the kernel says can be allocated without swapping (`MemAvailable`).
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuse, in one line, a workload that needs more than half the memory available now.
///
/// `what` names the allocation and `fix` says which flag to lower. Where the platform does not
/// report free memory the check passes (the allocation then fails on its own, as before).
pub fn ensure_memory(bytes: u128, what: &str, fix: &str) -> anyhow::Result<()> {
    let Some(available) = available_memory() else {
        return Ok(());
    };
    let budget = u128::from(available / 2);
    anyhow::ensure!(
        bytes <= budget,
        "{what} needs {} but only {} is available (this lesson uses at most half); {fix}",
        fmt_bytes(bytes),
        fmt_bytes(u128::from(available))
    );
    Ok(())
}

/// `1.5 GB`, `800 MB`, `12 kB`: decimal units, one decimal where useful.
pub fn fmt_bytes(bytes: u128) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.0} kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.0} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

/// Idle and total jiffies over all CPUs, from the first line of `/proc/stat`.
struct CpuTimes {
    idle: u64,
    total: u64,
}

fn cpu_times() -> Option<CpuTimes> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
    let total = fields.iter().take(8).sum();
    Some(CpuTimes { idle, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_cores_stay_within_the_machine() {
        let load = sample();
        assert!(load.cores >= 1);
        assert!((0.0..=load.cores as f64).contains(&load.free));
        assert!(load.to_string().starts_with("this machine: "));
    }

    #[test]
    fn causes_name_what_was_seen() {
        let busy = MachineLoad {
            cores: 2,
            free: 0.4,
            known: true,
        };
        assert!(
            busy.likely_cause()
                .contains("1.6 of this machine's 2 cores")
        );
        let idle = MachineLoad {
            cores: 2,
            free: 1.9,
            known: true,
        };
        assert!(idle.likely_cause().contains("looked idle"));
        assert_eq!(
            idle.to_string(),
            "this machine: 2 cores, about 1.9 free right now"
        );
    }

    #[test]
    fn huge_allocations_are_refused_in_one_line() {
        if available_memory().is_some() {
            let err = ensure_memory(u128::MAX, "part 3's arrays", "lower --array-len")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("lower --array-len") && !err.contains('\n'),
                "{err}"
            );
        }
        assert!(ensure_memory(1, "one byte", "").is_ok());
        assert_eq!(fmt_bytes(51_200_000_000), "51.2 GB");
        assert_eq!(fmt_bytes(800_000_000), "800 MB");
    }
}
