//! When and how long to wait before sending a failed AWS request again.
//!
//! AWS's standard retry mode: throttling errors, 5xx answers and network failures are
//! retried, other 4xx answers are not (they will fail the same way again). Waits grow
//! exponentially with full jitter, so many scanners throttled at once spread out instead
//! of retrying in lockstep.

use std::time::Duration;

use super::client::{AwsResponse, SendError};
use super::transport::TransportError;
use super::xml::error_of;

/// Error codes AWS services use for throttling, whatever the HTTP status.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// How a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The wait before the first retry is at most this.
    pub base_delay: Duration,
    /// No wait is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// AWS's standard mode: 3 attempts, waits up to 1 s, 2 s, ... capped at 20 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// Why a request may be sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retryable {
    /// The service asked us to slow down.
    Throttled(String),
    /// A 5xx answer or a network failure.
    Transient(String),
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (`attempt` counts from 1): a random time up to
    /// `base * 2^(attempt-1)`, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16))
            .min(self.max_delay);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// Whether `outcome` should be retried, and why.
pub fn classify(outcome: &Result<AwsResponse, SendError>) -> Option<Retryable> {
    match outcome {
        Ok(response) if response.is_success() => None,
        Ok(response) => {
            let (code, _) = error_of(response.status, &response.body);
            if response.status == 429 || THROTTLING_CODES.contains(&code.as_str()) {
                Some(Retryable::Throttled(code))
            } else if matches!(response.status, 500 | 502 | 503 | 504) {
                Some(Retryable::Transient(format!(
                    "HTTP {} {code}",
                    response.status
                )))
            } else {
                None
            }
        }
        Err(SendError::Transport(TransportError::Network { reason, .. })) => {
            Some(Retryable::Transient(reason.clone()))
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Result<AwsResponse, SendError> {
        Ok(AwsResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn throttling_and_server_errors_are_retried_client_errors_are_not() {
        let throttled = "<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert_eq!(
            classify(&response(503, throttled)),
            Some(Retryable::Throttled("RequestLimitExceeded".into()))
        );
        assert!(matches!(
            classify(&response(400, "<Error><Code>Throttling</Code></Error>")),
            Some(Retryable::Throttled(_))
        ));
        assert!(matches!(
            classify(&response(429, "")),
            Some(Retryable::Throttled(_))
        ));
        assert!(matches!(
            classify(&response(500, "<html>oops</html>")),
            Some(Retryable::Transient(_))
        ));
        assert_eq!(
            classify(&response(403, "<Error><Code>AccessDenied</Code></Error>")),
            None
        );
        assert_eq!(
            classify(&response(
                400,
                "<Error><Code>InvalidParameterValue</Code></Error>"
            )),
            None
        );
        assert_eq!(classify(&response(200, "")), None);
        let too_large = Err(SendError::Transport(TransportError::TooLarge {
            url: "u".into(),
            limit: 1,
        }));
        assert_eq!(
            classify(&too_large),
            None,
            "a bigger answer next time is no better"
        );
    }

    #[test]
    fn waits_grow_with_full_jitter_and_are_capped() {
        let policy = RetryPolicy::default();
        for _ in 0..100 {
            assert!(policy.delay(1) <= Duration::from_secs(1));
            assert!(policy.delay(3) <= Duration::from_secs(4));
            assert!(policy.delay(30) <= Duration::from_secs(20));
        }
    }
}
