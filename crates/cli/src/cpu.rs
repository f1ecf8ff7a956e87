//! CPU time of processes, read from `/proc` (Linux): what `chainsig bench` charges to the
//! chain and to the nodes of a devnet, whose processes leave their pid in their directory.
//!
//! `/proc/<pid>/stat` counts user and system time of all of a process's threads in clock
//! ticks of `USER_HZ`, which Linux fixes at 100 for user space on every architecture it
//! ships.

use std::path::Path;
use std::time::Duration;

const USER_HZ: u64 = 100;

/// The file a devnet child writes its pid to, in its own directory.
pub const PID_FILE: &str = "pid";

/// CPU time (user + system, all threads) `pid` has used so far; `None` if it is gone.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are
    // space-separated, utime and stime being the 12th and 13th of them.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// The pid a devnet child left in `dir`, if it is still running.
pub fn pid_in(dir: &Path) -> Option<u32> {
    let pid = std::fs::read_to_string(dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    process_cpu(pid).map(|_| pid)
}

/// CPU used by groups of processes between two samples.
#[derive(Clone, Debug, Default)]
pub struct Groups {
    groups: Vec<(String, Vec<u32>)>,
}

impl Groups {
    pub fn add(&mut self, name: &str, pids: Vec<u32>) {
        if !pids.is_empty() {
            self.groups.push((name.to_owned(), pids));
        }
    }

    /// How many processes the groups other than `except` hold.
    pub fn processes_except(&self, except: &str) -> usize {
        self.groups
            .iter()
            .filter(|(name, _)| name != except)
            .map(|(_, pids)| pids.len())
            .sum()
    }

    /// Each group's total CPU now.
    pub fn sample(&self) -> Vec<(String, Duration)> {
        self.groups
            .iter()
            .map(|(name, pids)| {
                let total = pids.iter().filter_map(|p| process_cpu(*p)).sum();
                (name.clone(), total)
            })
            .collect()
    }
}

/// Per group, what it used between `before` and `after`.
pub fn used(
    before: &[(String, Duration)],
    after: &[(String, Duration)],
) -> Vec<(String, Duration)> {
    before
        .iter()
        .zip(after)
        .map(|((name, b), (_, a))| (name.clone(), a.saturating_sub(*b)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_cpu_and_a_missing_one_none() {
        let me = std::process::id();
        let before = process_cpu(me).unwrap();
        let mut x = 0u64;
        let until = std::time::Instant::now() + Duration::from_millis(300);
        while std::time::Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = process_cpu(me).unwrap();
        assert!(after > before, "{before:?} -> {after:?}");
        assert_eq!(process_cpu(u32::MAX), None);
    }
}
