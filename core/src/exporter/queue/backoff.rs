//! Exponential backoff with jitter between export attempts.

use std::time::Duration;

use super::config::RetrySettings;

/// Exponential backoff with jitter, as `cenkalti/backoff` computes it.
#[derive(Debug)]
pub struct Backoff {
    current: Duration,
    settings: RetrySettings,
    seed: u64,
}

impl Backoff {
    pub fn new(settings: &RetrySettings) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x2545_f491_4f6c_dd1d, |d| d.as_nanos() as u64)
            | 1;
        Backoff {
            current: settings.initial_interval.0,
            settings: settings.clone(),
            seed,
        }
    }

    fn random(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next delay: current ± randomization, then grow current.
    pub fn next_delay(&mut self) -> Duration {
        let f = self.settings.randomization_factor;
        let cur = self.current.as_secs_f64();
        let delta = f * cur;
        let delay = (cur - delta) + self.random() * (2.0 * delta);
        let grown =
            (cur * self.settings.multiplier).min(self.settings.max_interval.0.as_secs_f64());
        self.current = Duration::from_secs_f64(grown.max(0.0));
        Duration::from_secs_f64(delay.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_jitter_and_caps() {
        let s = RetrySettings::default();
        let mut b = Backoff::new(&s);
        let d1 = b.next_delay().as_secs_f64();
        assert!((2.5..=7.5).contains(&d1), "{d1}");
        let d2 = b.next_delay().as_secs_f64();
        assert!((3.75..=11.25).contains(&d2), "{d2}");
        for _ in 0..20 {
            assert!(b.next_delay().as_secs_f64() <= 45.0);
        }
    }
}
