//! Minimal readers for `/proc/PID/{status,stat}`.

use anyhow::{anyhow, Context, Result};

/// Resident set size (VmRSS) of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vmrss(&text).ok_or_else(|| anyhow!("no VmRSS line in {path}"))
}

fn parse_vmrss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// User + system CPU time of all threads of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat_ticks(&text).ok_or_else(|| anyhow!("cannot parse {path}"))
}

fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may contain spaces;
    // fields after it are space separated: state is field 3, utime 14,
    // stime 15 (1-based), i.e. indices 11 and 12 after the ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total clock ticks of one line of `/proc/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Everything but idle and iowait.
    pub busy: u64,
    /// Hard and soft interrupt time (loopback networking lands here).
    pub irq: u64,
    pub total: u64,
}

/// Busy/total ticks for the whole machine (index 0) and each core (index
/// 1 + core number), from `/proc/stat`.
pub fn system_cpu_times() -> Result<Vec<CpuTimes>> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    Ok(parse_proc_stat(&text))
}

fn parse_proc_stat(text: &str) -> Vec<CpuTimes> {
    text.lines()
        .filter(|l| l.starts_with("cpu"))
        .map(|l| {
            // user nice system idle iowait irq softirq steal guest guest_nice;
            // guest time is already part of user time.
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .take(8)
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            let get = |i: usize| v.get(i).copied().unwrap_or(0);
            let idle = get(3) + get(4);
            let total: u64 = v.iter().sum();
            CpuTimes {
                busy: total - idle,
                irq: get(5) + get(6),
                total,
            }
        })
        .collect()
}

/// Clock ticks per second (USER_HZ); asks `getconf`, falls back to 100.
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n: &u64| n > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let status = "Name:\ttern\nVmPeak:\t  20000 kB\nVmRSS:\t    8123 kB\nThreads:\t3\n";
        assert_eq!(parse_vmrss(status), Some(8123));
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
        assert_eq!(parse_stat_ticks(stat), Some(325));
    }

    #[test]
    fn parses_proc_stat() {
        let text = "cpu  100 0 50 800 50 3 4 0 0 0\ncpu0 60 0 20 400 20 0 0 0 0 0\ncpu1 40 0 30 400 30 0 0 0 0 0\nintr 1 2 3\n";
        let t = parse_proc_stat(text);
        assert_eq!(t.len(), 3);
        assert_eq!(
            t[0],
            CpuTimes {
                busy: 157,
                irq: 7,
                total: 1007
            }
        );
        assert_eq!(
            t[2],
            CpuTimes {
                busy: 70,
                irq: 0,
                total: 500
            }
        );
        assert!(system_cpu_times().expect("read").len() >= 2);
    }

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(rss_kib(pid).expect("rss") > 0);
        assert!(cpu_ticks(pid).is_ok());
    }
}
