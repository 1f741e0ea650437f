//! The `memory_limiter` processor (upstream `processor/memorylimiterprocessor`):
//! admission control against the soft limit (`limit - spike`). The data path
//! compares the allocator's live-heap counter with it (O(1), always current); a
//! background check every `check_interval` logs transitions and, without the
//! counting allocator, sets the flag from RSS. While above the soft limit
//! new data is refused with a retryable error (HTTP 503 + `Retry-After`, gRPC
//! UNAVAILABLE) so SDKs retry; data already accepted keeps flowing out.
//!
//! What is measured: the live heap bytes counted by Tern's global allocator
//! (`tern-alloc`), the equivalent of Go's `MemStats.Alloc` upstream uses. RSS is a
//! worse signal here: the system allocator keeps freed pages, so RSS stays high
//! after a burst and refusal would never end. When no allocator statistic is
//! available (a binary without the counting allocator) RSS is used.

pub mod total;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::component::{
    parse_config, BuildContext, BuildError, ComponentId, ConfigIssue, ProcessorConfig,
    ProcessorFactory, ProcessorRole, ProcessorStage, Validate,
};
use crate::config::duration::GoDuration;
use crate::otlp::SignalKind;
use crate::pipeline::{Admission, ProcessError};
use crate::telemetry::metrics::{Counter, MemoryLimiterMetrics};

const MIB: u64 = 1024 * 1024;

/// The message upstream uses (clients and dashboards match on it).
pub const REFUSED_MESSAGE: &str = "data refused due to high memory usage";

/// `processors: memory_limiter:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    /// How often memory is measured. Required, > 0 (1s is typical).
    pub check_interval: GoDuration,
    /// Hard limit in MiB. Wins over `limit_percentage`.
    pub limit_mib: u64,
    /// Headroom below the hard limit in MiB; default 20% of the limit. Soft limit = limit - spike.
    pub spike_limit_mib: u64,
    /// Hard limit as a percentage of total memory (cgroup limit, Lambda memory size, or RAM).
    pub limit_percentage: u32,
    /// Spike as a percentage of total memory; default 20% of the computed limit.
    pub spike_limit_percentage: u32,
    /// Accepted for compatibility (Rust has no GC to force).
    pub min_gc_interval_when_soft_limited: Option<GoDuration>,
    /// Accepted for compatibility.
    pub min_gc_interval_when_hard_limited: Option<GoDuration>,
    /// Accepted for compatibility.
    pub max_gc_interval_when_soft_limited: Option<GoDuration>,
    /// Accepted for compatibility.
    pub max_gc_interval_when_hard_limited: Option<GoDuration>,
    /// The limiter of this component ID, shared by every pipeline that uses it
    /// (as upstream); created at the first build.
    #[serde(skip)]
    limiter: OnceLock<Arc<Limiter>>,
}

impl Validate for MemoryLimiterConfig {
    fn validate(&self) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if self.check_interval.0.is_zero() {
            v.push(ConfigIssue::new(
                "check_interval",
                "'check_interval' must be greater than zero",
            ));
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            v.push(ConfigIssue::new(
                "",
                "'limit_mib' or 'limit_percentage' must be greater than zero",
            ));
        }
        if self.limit_mib > 0 && self.limit_mib <= self.spike_limit_mib {
            v.push(ConfigIssue::new(
                "spike_limit_mib",
                "'spike_limit_mib' must be smaller than 'limit_mib'",
            ));
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            v.push(ConfigIssue::new(
                "limit_percentage",
                "'limit_percentage' and 'spike_limit_percentage' must be greater than zero and less than or equal to hundred",
            ));
        }
        if self.limit_mib == 0
            && self.limit_percentage > 0
            && self.spike_limit_percentage >= self.limit_percentage
        {
            v.push(ConfigIssue::new(
                "spike_limit_percentage",
                "'spike_limit_percentage' must be smaller than 'limit_percentage'",
            ));
        }
        v
    }
}

/// Resolved limits in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hard: u64,
    pub soft: u64,
}

impl MemoryLimiterConfig {
    /// Computes the limits; `total` is the memory available to the process.
    pub fn limits(&self, total: impl FnOnce() -> Option<u64>) -> Result<Limits, String> {
        let (hard, spike) = if self.limit_mib > 0 {
            let hard = self.limit_mib * MIB;
            let spike = if self.spike_limit_mib > 0 {
                self.spike_limit_mib * MIB
            } else {
                hard / 5
            };
            (hard, spike)
        } else {
            let total = total()
                .ok_or("failed to get total memory, use fixed memory settings (limit_mib)")?;
            let hard = total * u64::from(self.limit_percentage) / 100;
            let spike = if self.spike_limit_percentage > 0 {
                total * u64::from(self.spike_limit_percentage) / 100
            } else {
                hard / 5
            };
            (hard, spike)
        };
        Ok(Limits {
            hard,
            soft: hard.saturating_sub(spike),
        })
    }
}

/// The shared state of one `memory_limiter` ID (one instance across pipelines, like upstream).
#[derive(Debug)]
pub struct Limiter {
    refusing: AtomicBool,
    limits: Limits,
    last_usage: AtomicU64,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Limiter {
            refusing: AtomicBool::new(false),
            limits,
            last_usage: AtomicU64::new(0),
        }
    }

    /// The admission check. With the counting allocator this reads the live heap
    /// directly (one atomic load), so a burst is refused the moment it crosses the
    /// soft limit instead of at the next `check_interval`; otherwise it reads the
    /// flag the periodic RSS check sets.
    pub fn is_refusing(&self) -> bool {
        match crate::telemetry::heap_stats() {
            Some(h) => h.allocated >= self.limits.soft,
            None => self.refusing.load(Ordering::Relaxed),
        }
    }

    /// One check: updates the flag from a measurement; returns the transition, if any.
    pub fn check(&self, usage: u64) -> Option<bool> {
        self.last_usage.store(usage, Ordering::Relaxed);
        let above = usage >= self.limits.soft;
        let was = self.refusing.swap(above, Ordering::Relaxed);
        (was != above).then_some(above)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// Current memory in use: allocator live bytes, else RSS.
pub fn measure() -> u64 {
    crate::telemetry::heap_stats()
        .map(|h| h.allocated)
        .or_else(crate::telemetry::rss_bytes)
        .unwrap_or(0)
}

fn spawn_checker(id: String, limiter: Arc<Limiter>, interval: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let usage = measure();
            match limiter.check(usage) {
                Some(true) => {
                    tracing::warn!(processor = %id, cur_mem_mib = usage / MIB, soft_limit_mib = limiter.limits.soft / MIB,
                    "Memory usage is above soft limit. Refusing data.")
                }
                Some(false) => tracing::info!(processor = %id, cur_mem_mib = usage / MIB,
                    "Memory usage back within limits. Resuming normal operation."),
                None => {}
            }
        }
    });
}

/// The admission stage of one pipeline: the shared limiter plus that signal's counters.
struct MemoryLimiterAdmission {
    limiter: Arc<Limiter>,
    accepted: Counter,
    refused: Counter,
}

impl Admission for MemoryLimiterAdmission {
    fn admit(&self, n: u64) -> Result<(), ProcessError> {
        if self.limiter.is_refusing() {
            self.refused.inc_by(n);
            return Err(ProcessError::Refused(REFUSED_MESSAGE.to_string()));
        }
        self.accepted.inc_by(n);
        Ok(())
    }
}

/// Factory of the `memory_limiter` processor.
pub struct MemoryLimiterFactory;

impl ProcessorFactory for MemoryLimiterFactory {
    fn type_name(&self) -> &'static str {
        "memory_limiter"
    }
    fn signals(&self) -> &'static [SignalKind] {
        &SignalKind::ALL
    }
    fn parse(
        &self,
        prefix: &str,
        raw: &Value,
    ) -> Result<Box<dyn ProcessorConfig>, Vec<ConfigIssue>> {
        Ok(Box::new(parse_config::<MemoryLimiterConfig>(prefix, raw)?))
    }
}

impl MemoryLimiterConfig {
    /// The limiter of this ID, created (and its checker started) the first time.
    fn limiter(&self, id: &ComponentId) -> Result<Arc<Limiter>, BuildError> {
        if let Some(l) = self.limiter.get() {
            return Ok(l.clone());
        }
        let limits = self
            .limits(total::total_memory)
            .map_err(|e| BuildError::new(id, e))?;
        tracing::info!(processor = %id, hard_limit_mib = limits.hard / MIB, soft_limit_mib = limits.soft / MIB, "Memory limiter configured.");
        let limiter = self
            .limiter
            .get_or_init(|| {
                let l = Arc::new(Limiter::new(limits));
                spawn_checker(id.to_string(), l.clone(), self.check_interval.0);
                l
            })
            .clone();
        Ok(limiter)
    }
}

impl ProcessorConfig for MemoryLimiterConfig {
    fn role(&self) -> ProcessorRole {
        ProcessorRole::Admission
    }
    fn build(
        &self,
        ctx: &BuildContext,
        id: &ComponentId,
        signal: SignalKind,
    ) -> Result<ProcessorStage, BuildError> {
        let limiter = self.limiter(id)?;
        let MemoryLimiterMetrics { accepted, refused } =
            MemoryLimiterMetrics::new(&ctx.telemetry, &id.to_string(), signal);
        Ok(ProcessorStage::Admission(Arc::new(
            MemoryLimiterAdmission {
                limiter,
                accepted,
                refused,
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(limit_mib: u64, spike: u64, pct: u32, spike_pct: u32) -> MemoryLimiterConfig {
        MemoryLimiterConfig {
            check_interval: GoDuration::from_secs(1),
            limit_mib,
            spike_limit_mib: spike,
            limit_percentage: pct,
            spike_limit_percentage: spike_pct,
            ..Default::default()
        }
    }

    #[test]
    fn limits_follow_upstream_rules() {
        assert_eq!(
            cfg(100, 0, 0, 0).limits(|| None),
            Ok(Limits {
                hard: 100 * MIB,
                soft: 80 * MIB
            })
        );
        assert_eq!(
            cfg(100, 30, 0, 0).limits(|| None),
            Ok(Limits {
                hard: 100 * MIB,
                soft: 70 * MIB
            })
        );
        assert_eq!(
            cfg(0, 0, 50, 10).limits(|| Some(1000 * MIB)),
            Ok(Limits {
                hard: 500 * MIB,
                soft: 400 * MIB
            })
        );
        assert_eq!(
            cfg(0, 0, 50, 0).limits(|| Some(1000 * MIB)),
            Ok(Limits {
                hard: 500 * MIB,
                soft: 400 * MIB
            })
        );
        assert!(cfg(0, 0, 50, 0)
            .limits(|| None)
            .unwrap_err()
            .contains("use fixed memory settings"));
    }

    #[test]
    fn validation_messages_match_upstream() {
        let msgs = |c: MemoryLimiterConfig| {
            c.validate()
                .into_iter()
                .map(|i| i.message)
                .collect::<Vec<_>>()
        };
        assert!(msgs(MemoryLimiterConfig {
            limit_mib: 10,
            ..Default::default()
        })
        .contains(&"'check_interval' must be greater than zero".to_string()));
        assert!(msgs(cfg(0, 0, 0, 0))
            .contains(&"'limit_mib' or 'limit_percentage' must be greater than zero".to_string()));
        assert!(msgs(cfg(10, 10, 0, 0))
            .contains(&"'spike_limit_mib' must be smaller than 'limit_mib'".to_string()));
        assert!(msgs(cfg(0, 0, 101, 0))[0].contains("less than or equal to hundred"));
        assert!(msgs(cfg(0, 0, 50, 50)).contains(
            &"'spike_limit_percentage' must be smaller than 'limit_percentage'".to_string()
        ));
        assert!(msgs(cfg(64, 0, 0, 0)).is_empty());
    }

    #[test]
    fn refuses_above_soft_and_resumes_below() {
        let l = Limiter::new(Limits {
            hard: 100,
            soft: 80,
        });
        assert_eq!(l.check(79), None);
        assert!(!l.refusing.load(Ordering::Relaxed));
        assert_eq!(l.check(80), Some(true));
        assert!(l.refusing.load(Ordering::Relaxed));
        assert_eq!(l.check(95), None);
        assert_eq!(l.check(10), Some(false));
        let p = MemoryLimiterAdmission {
            limiter: Arc::new(Limiter::new(Limits { hard: 1, soft: 0 })),
            accepted: Counter::default(),
            refused: Counter::default(),
        };
        p.limiter.check(5);
        let r = p.admit(0);
        assert_eq!(r, Err(ProcessError::Refused(REFUSED_MESSAGE.into())));
    }
}
