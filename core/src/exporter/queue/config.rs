//! `sending_queue` and `retry_on_failure` settings of a queued exporter, with
//! their pure validation.

use std::time::Duration;

use serde::Deserialize;

use crate::config::duration::GoDuration;

/// `sending_queue` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Whether to queue at all. When false, the pipeline waits for each export.
    pub enabled: bool,
    /// Concurrent senders draining the queue.
    pub num_consumers: usize,
    /// Capacity, in requests (batches).
    pub queue_size: usize,
    /// Only `requests` is supported.
    pub sizer: String,
    /// When the queue is full, senders wait up to 5 s for room (instead of 50 ms)
    /// before being refused with 503/UNAVAILABLE. Never drops: data inside the
    /// pipeline was acknowledged and always waits.
    pub block_on_overflow: bool,
    /// Accepted for compatibility; see `block_on_overflow`.
    pub wait_for_result: bool,
    /// A `file_storage` extension ID: the queue survives restarts and crashes.
    pub storage: Option<String>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: "requests".into(),
            block_on_overflow: false,
            wait_for_result: false,
            storage: None,
        }
    }
}

impl QueueSettings {
    /// Pure validation; returns (key, message) pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        if self.enabled && self.queue_size == 0 {
            errs.push(("queue_size".into(), "`queue_size` must be positive".into()));
        }
        if self.enabled && self.num_consumers == 0 {
            errs.push((
                "num_consumers".into(),
                "`num_consumers` must be positive".into(),
            ));
        }
        if self.sizer != "requests" {
            errs.push((
                "sizer".into(),
                format!(
                    "sizer {:?} is not supported yet (supported: requests)",
                    self.sizer
                ),
            ));
        }
        if self.storage.is_some() && !self.enabled {
            errs.push((
                "storage".into(),
                "a persistent queue needs `enabled: true`".into(),
            ));
        }
        errs
    }
}

/// `retry_on_failure` settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    /// 0 retries forever.
    pub max_elapsed_time: GoDuration,
    pub multiplier: f64,
    pub randomization_factor: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            enabled: true,
            initial_interval: GoDuration::from_secs(5),
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl RetrySettings {
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errs = Vec::new();
        if !self.enabled {
            return errs;
        }
        if self.multiplier < 1.0 {
            errs.push((
                "multiplier".into(),
                "`multiplier` must be at least 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.randomization_factor) {
            errs.push((
                "randomization_factor".into(),
                "`randomization_factor` must be in [0, 1)".into(),
            ));
        }
        let max_elapsed = self.max_elapsed_time.0;
        if !max_elapsed.is_zero()
            && (max_elapsed < self.initial_interval.0 || max_elapsed < self.max_interval.0)
        {
            errs.push((
                "max_elapsed_time".into(),
                "`max_elapsed_time` must not be less than `initial_interval` and `max_interval`"
                    .into(),
            ));
        }
        errs
    }
}

/// Static settings of one queued exporter.
#[derive(Debug, Clone)]
pub struct ExporterSettings {
    pub id: String,
    pub timeout: Duration,
    pub queue: QueueSettings,
    pub retry: RetrySettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages() {
        let r = RetrySettings {
            max_elapsed_time: GoDuration::from_secs(1),
            ..Default::default()
        };
        assert_eq!(r.validate().len(), 1);
        let q = QueueSettings {
            queue_size: 0,
            ..Default::default()
        };
        assert_eq!(q.validate()[0].0, "queue_size");
    }
}
