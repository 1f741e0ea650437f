//! Total memory available to the process: the Lambda function's memory size,
//! else the cgroup v2 or v1 limit, else physical RAM.

const V1_UNLIMITED: u64 = 9_223_372_036_854_771_712;

/// Bytes, or `None` when nothing can be read.
pub fn total_memory() -> Option<u64> {
    if let Some(mb) = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(mb * 1024 * 1024);
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    cgroup_limit(&mountinfo, &cgroup, &|p| std::fs::read_to_string(p).ok()).or_else(meminfo_total)
}

/// The cgroup memory limit, from the mount table and the process's cgroup paths.
pub fn cgroup_limit(
    mountinfo: &str,
    cgroup: &str,
    read: &dyn Fn(&str) -> Option<String>,
) -> Option<u64> {
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (mount_root, mount_point) = (fields.get(3)?, fields.get(4)?);
        let fstype = fields.get(sep + 1)?;
        if *fstype == "cgroup2" {
            let rel = cgroup
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/");
            let rel = rel
                .strip_prefix(mount_root.trim_end_matches('/'))
                .unwrap_or(rel);
            let path = format!(
                "{}{}/memory.max",
                mount_point.trim_end_matches('/'),
                rel.trim_end_matches('/')
            );
            let v = read(&path).or_else(|| read(&format!("{mount_point}/memory.max")))?;
            let v = v.trim();
            return if v == "max" { None } else { v.parse().ok() };
        }
        if *fstype == "cgroup"
            && fields
                .get(sep + 3)
                .is_some_and(|opts| opts.split(',').any(|o| o == "memory"))
        {
            let rel = cgroup.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrls.split(',').any(|c| c == "memory").then_some(path)
            })?;
            let rel = rel
                .strip_prefix(mount_root.trim_end_matches('/'))
                .unwrap_or(rel);
            let path = format!(
                "{}{}/memory.limit_in_bytes",
                mount_point.trim_end_matches('/'),
                rel.trim_end_matches('/')
            );
            let v: u64 = read(&path)
                .or_else(|| read(&format!("{mount_point}/memory.limit_in_bytes")))?
                .trim()
                .parse()
                .ok()?;
            return if v == 0 || v >= V1_UNLIMITED {
                None
            } else {
                Some(v)
            };
        }
    }
    None
}

fn meminfo_total() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line["MemTotal:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cgroup_v2_and_v1() {
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
        let read = |p: &str| match p {
            "/sys/fs/cgroup/app/memory.max" => Some("536870912\n".to_string()),
            "/sys/fs/cgroup/memory/ecs/task/memory.limit_in_bytes" => Some("268435456".to_string()),
            "/sys/fs/cgroup/other/memory.max" => Some("max".to_string()),
            _ => None,
        };
        assert_eq!(
            cgroup_limit(v2, "0::/app\n", &read),
            Some(512 * 1024 * 1024)
        );
        assert_eq!(cgroup_limit(v2, "0::/other\n", &read), None);
        let v1 = "40 30 0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            cgroup_limit(v1, "4:memory:/ecs/task\n", &read),
            Some(256 * 1024 * 1024)
        );
        assert!(meminfo_total().is_some_and(|t| t > 0));
    }
}
