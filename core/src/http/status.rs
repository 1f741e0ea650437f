//! One classification of HTTP answers: success, retryable or permanent, with a
//! per-backend override for the statuses a backend documents differently.

/// What an HTTP answer means for the request that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 2xx: delivered.
    Success,
    /// Worth retrying (after the answer's `Retry-After`, if any).
    Retryable,
    /// Retrying cannot help.
    Permanent,
}

/// An override: the class of `(status, body)` where a backend departs from
/// the default rules, `None` to use them.
pub type StatusOverride = fn(status: u16, body: &[u8]) -> Option<StatusClass>;

/// How one backend's answers are classified: its override first, then the
/// default rules (2xx success; 408, 429 and 5xx retryable; the rest permanent).
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusPolicy {
    overrides: Option<StatusOverride>,
}

impl StatusPolicy {
    /// The default rules alone.
    pub const DEFAULT: StatusPolicy = StatusPolicy { overrides: None };

    /// The default rules, except where `f` answers.
    pub const fn with_override(f: StatusOverride) -> Self {
        StatusPolicy { overrides: Some(f) }
    }

    pub fn classify(&self, status: u16, body: &[u8]) -> StatusClass {
        self.overrides
            .and_then(|f| f(status, body))
            .unwrap_or_else(|| default_class(status))
    }
}

/// The default rules: 2xx success; 408, 429 and every 5xx retryable; the rest
/// (other 1xx/3xx/4xx) permanent.
pub fn default_class(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        408 | 429 | 500..=599 => StatusClass::Retryable,
        _ => StatusClass::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use StatusClass::{Permanent, Retryable, Success};

    #[test]
    fn default_rules() {
        let table: &[(u16, StatusClass)] = &[
            (200, Success),
            (202, Success),
            (204, Success),
            (299, Success),
            (100, Permanent),
            (301, Permanent),
            (304, Permanent),
            (400, Permanent),
            (401, Permanent),
            (403, Permanent),
            (404, Permanent),
            (408, Retryable),
            (413, Permanent),
            (429, Retryable),
            (499, Permanent),
            (500, Retryable),
            (502, Retryable),
            (503, Retryable),
            (504, Retryable),
            (599, Retryable),
            (600, Permanent),
        ];
        for &(status, want) in table {
            assert_eq!(default_class(status), want, "status {status}");
            assert_eq!(
                StatusPolicy::DEFAULT.classify(status, b"body"),
                want,
                "status {status}"
            );
        }
    }

    #[test]
    fn an_override_wins_where_it_answers_and_defers_elsewhere() {
        // A backend that documents "429 with `quota` in the body" as permanent
        // and 418 as retryable.
        fn quirky(status: u16, body: &[u8]) -> Option<StatusClass> {
            match status {
                429 if body.windows(5).any(|w| w == b"quota") => Some(Permanent),
                418 => Some(Retryable),
                _ => None,
            }
        }
        let policy = StatusPolicy::with_override(quirky);
        let table: &[(u16, &[u8], StatusClass)] = &[
            (429, b"over quota", Permanent),
            (429, b"slow down", Retryable),
            (418, b"", Retryable),
            (400, b"", Permanent),
            (503, b"quota", Retryable),
            (200, b"", Success),
        ];
        for &(status, body, want) in table {
            assert_eq!(policy.classify(status, body), want, "status {status}");
        }
    }
}
