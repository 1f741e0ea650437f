//! When to flush: the adaptive policy. Pure; time comes from a [`Clock`].
//!
//! - **End**: after every invocation (its `platform.runtimeDone`), flush, then
//!   call `/next`: nothing is left in memory when the sandbox freezes.
//! - **Periodic**: at the start of an invocation, flush if the last flush is
//!   older than `periodic_interval`, then call `/next` at once (the flush
//!   overlaps the function). A backup timer flushes during long waits.
//! - **Adaptive** (default): End while invocations are sparse; Periodic once at
//!   least `warmup_invocations` gaps were seen and their exponentially weighted
//!   mean (over about that many invocations) is at most `active_invocation_gap`.
//!   A gap longer than `reset_gap` starts the warm-up again.

use std::time::{Duration, Instant};

/// Source of monotonic time (injected so the policy is testable).
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushMode {
    Adaptive,
    End,
    Periodic,
}

impl std::str::FromStr for FlushMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "adaptive" => Ok(FlushMode::Adaptive),
            "end" => Ok(FlushMode::End),
            "periodic" => Ok(FlushMode::Periodic),
            other => Err(format!(
                "unknown flush mode {other:?} (expected adaptive, end or periodic)"
            )),
        }
    }
}

/// What the lifecycle does for the current invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Wait for runtimeDone, flush, then `/next`.
    End,
    /// Flush now if due, then `/next` without waiting.
    Periodic,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlushSettings {
    pub mode: FlushMode,
    pub periodic_interval: Duration,
    pub active_invocation_gap: Duration,
    pub warmup_invocations: u32,
    pub reset_gap: Duration,
    pub backup_interval: Duration,
}

impl Default for FlushSettings {
    fn default() -> Self {
        FlushSettings {
            mode: FlushMode::Adaptive,
            periodic_interval: Duration::from_secs(20),
            active_invocation_gap: Duration::from_secs(60),
            warmup_invocations: 20,
            reset_gap: Duration::from_secs(300),
            backup_interval: Duration::from_secs(60),
        }
    }
}

/// The adaptive flush policy.
#[derive(Debug)]
pub struct FlushPolicy {
    settings: FlushSettings,
    /// Exponentially weighted mean gap between invocation starts, in seconds.
    mean_gap: Option<f64>,
    gaps_seen: u32,
    last_invoke: Option<Instant>,
    last_flush: Instant,
}

impl FlushPolicy {
    pub fn new(settings: FlushSettings, now: Instant) -> Self {
        FlushPolicy {
            settings,
            mean_gap: None,
            gaps_seen: 0,
            last_invoke: None,
            last_flush: now,
        }
    }

    /// Records the start of an invocation and returns the strategy for it.
    pub fn on_invoke(&mut self, now: Instant) -> Strategy {
        if let Some(prev) = self.last_invoke {
            let gap = now.saturating_duration_since(prev);
            if gap > self.settings.reset_gap {
                self.mean_gap = None;
                self.gaps_seen = 0;
            } else {
                let g = gap.as_secs_f64();
                let alpha = 2.0 / (f64::from(self.settings.warmup_invocations.max(1)) + 1.0);
                self.mean_gap = Some(match self.mean_gap {
                    Some(m) => m + alpha * (g - m),
                    None => g,
                });
                self.gaps_seen = self.gaps_seen.saturating_add(1);
            }
        }
        self.last_invoke = Some(now);
        self.strategy()
    }

    /// The strategy for the current rate of invocations.
    pub fn strategy(&self) -> Strategy {
        match self.settings.mode {
            FlushMode::End => Strategy::End,
            FlushMode::Periodic => Strategy::Periodic,
            FlushMode::Adaptive => {
                let warm = self.gaps_seen >= self.settings.warmup_invocations;
                let busy = self
                    .mean_gap
                    .is_some_and(|m| m <= self.settings.active_invocation_gap.as_secs_f64());
                if warm && busy {
                    Strategy::Periodic
                } else {
                    Strategy::End
                }
            }
        }
    }

    /// In periodic mode: whether the flush at the start of an invocation is due.
    pub fn periodic_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_flush) >= self.settings.periodic_interval
    }

    /// When the backup timer fires if no flush happens before.
    pub fn backup_at(&self) -> Instant {
        self.last_flush + self.settings.backup_interval
    }

    pub fn flushed(&mut self, now: Instant) {
        self.last_flush = now;
    }

    /// The mean gap between invocations, when known.
    pub fn mean_gap(&self) -> Option<Duration> {
        self.mean_gap.map(Duration::from_secs_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A clock the test moves by hand.
    struct ManualClock(Mutex<Instant>);
    impl ManualClock {
        fn advance(&self, d: Duration) {
            let mut t = self.0.lock().unwrap();
            *t += d;
        }
    }
    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    fn setup(mode: FlushMode) -> (ManualClock, FlushPolicy) {
        let clock = ManualClock(Mutex::new(Instant::now()));
        let p = FlushPolicy::new(
            FlushSettings {
                mode,
                ..FlushSettings::default()
            },
            clock.now(),
        );
        (clock, p)
    }

    #[test]
    fn sparse_invocations_stay_in_end_mode() {
        let (clock, mut p) = setup(FlushMode::Adaptive);
        for _ in 0..50 {
            assert_eq!(p.on_invoke(clock.now()), Strategy::End);
            clock.advance(Duration::from_secs(90));
        }
    }

    #[test]
    fn frequent_invocations_switch_to_periodic_after_warmup() {
        let (clock, mut p) = setup(FlushMode::Adaptive);
        // The first invocation has no gap; 20 gaps are needed.
        for i in 0..=20 {
            let s = p.on_invoke(clock.now());
            if i < 20 {
                assert_eq!(s, Strategy::End, "invocation {i} before warm-up");
            } else {
                assert_eq!(s, Strategy::Periodic, "invocation {i} after warm-up");
            }
            clock.advance(Duration::from_secs(5));
        }
        assert!((p.mean_gap().unwrap().as_secs_f64() - 5.0).abs() < 1e-6);
    }

    #[test]
    fn slowing_down_returns_to_end_mode() {
        let (clock, mut p) = setup(FlushMode::Adaptive);
        for _ in 0..25 {
            p.on_invoke(clock.now());
            clock.advance(Duration::from_secs(10));
        }
        assert_eq!(p.strategy(), Strategy::Periodic);
        // Gaps of 4 minutes (under the reset gap) pull the mean above 60 s.
        let mut switched_after = None;
        for i in 0..20 {
            clock.advance(Duration::from_secs(230));
            if p.on_invoke(clock.now()) == Strategy::End {
                switched_after = Some(i);
                break;
            }
        }
        let n = switched_after.expect("back to End mode");
        assert!(n <= 3, "took {n} slow invocations");
    }

    #[test]
    fn a_long_pause_resets_the_warmup() {
        let (clock, mut p) = setup(FlushMode::Adaptive);
        for _ in 0..25 {
            p.on_invoke(clock.now());
            clock.advance(Duration::from_secs(1));
        }
        assert_eq!(p.strategy(), Strategy::Periodic);
        clock.advance(Duration::from_secs(600));
        assert_eq!(p.on_invoke(clock.now()), Strategy::End);
        for _ in 0..19 {
            clock.advance(Duration::from_secs(1));
            assert_eq!(p.on_invoke(clock.now()), Strategy::End);
        }
        clock.advance(Duration::from_secs(1));
        assert_eq!(p.on_invoke(clock.now()), Strategy::Periodic);
    }

    #[test]
    fn fixed_modes_ignore_the_rate() {
        let (clock, mut p) = setup(FlushMode::End);
        for _ in 0..30 {
            assert_eq!(p.on_invoke(clock.now()), Strategy::End);
            clock.advance(Duration::from_millis(100));
        }
        let (clock, mut p) = setup(FlushMode::Periodic);
        assert_eq!(p.on_invoke(clock.now()), Strategy::Periodic);
    }

    #[test]
    fn periodic_due_and_backup_timer_follow_the_last_flush() {
        let (clock, mut p) = setup(FlushMode::Periodic);
        let t0 = clock.now();
        assert!(!p.periodic_due(t0));
        clock.advance(Duration::from_secs(19));
        assert!(!p.periodic_due(clock.now()));
        clock.advance(Duration::from_secs(1));
        assert!(p.periodic_due(clock.now()));
        assert_eq!(p.backup_at(), t0 + Duration::from_secs(60));
        p.flushed(clock.now());
        assert!(!p.periodic_due(clock.now()));
        assert_eq!(p.backup_at(), clock.now() + Duration::from_secs(60));
    }

    #[test]
    fn modes_parse() {
        assert_eq!("End".parse::<FlushMode>(), Ok(FlushMode::End));
        assert_eq!("periodic".parse::<FlushMode>(), Ok(FlushMode::Periodic));
        assert!("sometimes".parse::<FlushMode>().is_err());
    }
}
