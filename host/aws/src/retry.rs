//! When and how long to wait before sending a failed AWS request again.
//!
//! AWS's standard retry mode: throttling errors, 5xx answers and network failures are
//! retried, other 4xx answers are not (they will fail the same way again). Waits grow
//! exponentially with full jitter, so many scanners throttled at once spread out instead
//! of retrying in lockstep.
//!
//! Time is bounded as well as attempts: every attempt has a deadline and all attempts of
//! one request share a budget, so a peer that never answers costs at most that budget and
//! is reported as "timed out", not as a network error minutes later.
//!
//! Throttling also slows the sender down before the next request, not only the retried
//! one: [`RateLimiter`] is the AWS SDKs' adaptive mode (a token bucket whose fill rate
//! drops multiplicatively on throttling and recovers along a CUBIC curve), so many scans
//! throttled at once converge on the rate the service accepts instead of a retry storm.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// The wait before the first retry is at most this while failures are sporadic (the
    /// request's rate limiter is not under heavy throttling).
    pub quick_delay: Duration,
    /// The wait before the first retry is at most this under heavy throttling.
    pub base_delay: Duration,
    /// No wait is longer than this.
    pub max_delay: Duration,
    /// One attempt that has not been answered after this is abandoned as timed out.
    pub attempt_timeout: Duration,
    /// All attempts of one request, waits included, end within this: no retry starts
    /// once it is spent, and the last attempt's deadline is cut to what is left.
    pub max_elapsed: Duration,
}

/// Seconds one attempt may take unless `CLOUDOPS_AWS_TIMEOUT` says otherwise.
pub const DEFAULT_ATTEMPT_TIMEOUT_SECS: u64 = 20;

impl Default for RetryPolicy {
    /// Up to 5 attempts. Sporadic failures are retried after up to 100 ms, 200 ms, ...
    /// (the Java SDK's base for non-throttling errors); under heavy throttling waits grow as
    /// in AWS's standard mode, up to 1 s, 2 s, ... capped at 20 s. Each attempt at most 20 s
    /// (`CLOUDOPS_AWS_TIMEOUT`), all of them at most three times that.
    ///
    /// Why two regimes: a throttle now and then (AWS's token buckets run dry for a moment)
    /// costs the standard mode's mean 0.5 s wait on a chain of sequential listing calls; at
    /// 10% random throttling that made a demo sync 1.79× slower. Heavy throttling, where
    /// long waits matter, is what the rate limiter detects ([`RateLimiter::under_pressure`]),
    /// and it also cuts the rate then. Quick retries are cheap, so a request gets five.
    fn default() -> Self {
        let attempt_timeout = std::env::var("CLOUDOPS_AWS_TIMEOUT")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(DEFAULT_ATTEMPT_TIMEOUT_SECS));
        Self {
            max_attempts: 5,
            quick_delay: Duration::from_millis(100),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            attempt_timeout,
            max_elapsed: attempt_timeout * 3,
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
    /// `base * 2^(attempt-1)`, capped, where the base is [`RetryPolicy::base_delay`] under
    /// heavy throttling (`pressed`) and [`RetryPolicy::quick_delay`] otherwise.
    pub fn delay(&self, attempt: u32, pressed: bool) -> Duration {
        let base = if pressed {
            self.base_delay
        } else {
            self.quick_delay
        };
        let ceiling = base
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
        Err(SendError::Transport(e @ TransportError::TimedOut { .. })) => {
            Some(Retryable::Transient(e.to_string()))
        }
        Err(_) => None,
    }
}

/// Counts of what the requests of a sync (or any set of clients sharing it) went through.
#[derive(Debug, Default)]
pub struct RequestStats {
    attempts: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    timed_out: AtomicU64,
    limited_wait_us: AtomicU64,
    limited: AtomicU64,
}

/// A copy of [`RequestStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Requests sent, retries included.
    pub attempts: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Answers that asked us to slow down.
    pub throttled: u64,
    /// Attempts abandoned at their deadline.
    pub timed_out: u64,
    /// Requests the client-side rate limiter held back.
    pub rate_limited: u64,
    /// Time it held them back in all, in milliseconds (summed over concurrent requests).
    pub rate_limited_ms: u64,
}

impl RequestStats {
    /// The counts so far.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            attempts: get(&self.attempts),
            retries: get(&self.retries),
            throttled: get(&self.throttled),
            timed_out: get(&self.timed_out),
            rate_limited: get(&self.limited),
            rate_limited_ms: get(&self.limited_wait_us) / 1000,
        }
    }

    pub(crate) fn attempt(&self, retry: bool) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn outcome(&self, why: Option<&Retryable>, timed_out: bool) {
        if matches!(why, Some(Retryable::Throttled(_))) {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        if timed_out {
            self.timed_out.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn limited(&self, waited: Duration) {
        self.limited.fetch_add(1, Ordering::Relaxed);
        self.limited_wait_us
            .fetch_add(waited.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts an attempt (a retry when `retry` is true) and waits until `limiter` lets it go.
    pub(crate) async fn admit(&self, limiter: &RateLimiter, retry: bool) {
        self.attempt(retry);
        let waited = limiter.acquire().await;
        if !waited.is_zero() {
            self.limited(waited);
        }
    }

    /// Counts how an attempt ended, tells `limiter` about throttling, and says why the
    /// attempt may be retried.
    pub(crate) fn settle(
        &self,
        limiter: &RateLimiter,
        outcome: &Result<AwsResponse, SendError>,
    ) -> Option<Retryable> {
        let why = classify(outcome);
        let timed_out = matches!(
            outcome,
            Err(SendError::Transport(TransportError::TimedOut { .. }))
        );
        self.outcome(why.as_ref(), timed_out);
        // A timeout or a network failure says nothing about the service's rate.
        if why.is_none() || matches!(why, Some(Retryable::Throttled(_))) {
            limiter.record(why.is_some());
        }
        why
    }
}

impl StatsSnapshot {
    /// One line for the end of a sync: what retrying and throttling cost.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "AWS requests: {} sent, {} retried ({} throttled, {} timed out)",
            self.attempts, self.retries, self.throttled, self.timed_out
        );
        if self.rate_limited > 0 {
            line.push_str(&format!(
                "; the client-side rate limit held back {} request(s), {:.1} s in all",
                self.rate_limited,
                self.rate_limited_ms as f64 / 1e3
            ));
        }
        line
    }
}

/// Fill rates never drop below this many requests per second.
const MIN_FILL_RATE: f64 = 0.5;
/// The bucket always holds at least one request.
const MIN_CAPACITY: f64 = 1.0;
/// Weight of the newest half-second in the measured send rate.
const SMOOTHING: f64 = 0.8;
/// On throttling the rate is multiplied by this.
const BETA: f64 = 0.7;
/// How fast the rate grows back (CUBIC's C).
const SCALE: f64 = 0.4;
/// Outcomes remembered to judge how much of the traffic is throttled.
const WINDOW: usize = 50;
/// Fewer outcomes than this say too little to act on.
const MIN_WINDOW: usize = 10;
/// The rate is cut only when at least this share of the recent answers were throttles.
const CUT_SHARE: f64 = 0.3;
/// Seconds between two cuts: a burst of throttles answers one overload, not many.
const CUT_INTERVAL: f64 = 1.0;

/// Adaptive client-side rate limiting for one (account, service, region).
///
/// Off until throttling is heavy: an unthrottled client sends as fast as its callers ask.
/// From then on each request takes a token from a bucket whose fill rate is cut to 70% of
/// the measured send rate and grows back along a cubic curve that flattens near the rate
/// last throttled, probes past it, then speeds up.
///
/// Unlike the SDKs' adaptive mode, one throttle is not a cut: the rate is cut only when
/// at least 30% of the last 50 answers were throttles, and at most once a second. Cutting
/// at every throttle collapses the rate when throttling is sparse and random (10% of
/// answers, whatever the rate): measured on loopback, 400 requests took 94 s instead of
/// 1.1 s. A service's rate limit, once exceeded, throttles most requests, so heavy
/// throttling still meets a cut within a few answers; sparse throttling is left to the
/// retries.
#[derive(Debug)]
pub struct RateLimiter {
    started: Instant,
    state: Mutex<LimiterState>,
}

#[derive(Debug, Clone)]
struct LimiterState {
    enabled: bool,
    fill_rate: f64,
    capacity: f64,
    tokens: f64,
    last_refill: f64,
    measured_rate: f64,
    bucket_start: f64,
    bucket_count: u64,
    last_max_rate: f64,
    last_throttle: f64,
    recent: std::collections::VecDeque<bool>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// A limiter that does not limit until it sees throttling.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            state: Mutex::new(LimiterState {
                enabled: false,
                fill_rate: 0.0,
                capacity: 0.0,
                tokens: 0.0,
                last_refill: 0.0,
                measured_rate: 0.0,
                bucket_start: 0.0,
                bucket_count: 0,
                last_max_rate: 0.0,
                last_throttle: f64::NEG_INFINITY,
                recent: std::collections::VecDeque::with_capacity(WINDOW),
            }),
        }
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Waits until a request may be sent; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let wait = self.reserve_at(self.now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }

    /// Tells the limiter how a request went.
    pub fn record(&self, throttled: bool) {
        self.record_at(self.now(), throttled);
    }

    /// Whether the service is throttling heavily: the rate limit is on, or at least 30% of
    /// the recent answers were throttles. Retries then wait as long as the SDKs' do.
    pub fn under_pressure(&self) -> bool {
        let s = self.state.lock().expect("rate limiter lock");
        s.enabled || (s.recent.len() >= MIN_WINDOW && s.share() >= CUT_SHARE)
    }

    /// The current fill rate in requests per second, `None` while not limiting.
    pub fn rate(&self) -> Option<f64> {
        let state = self.state.lock().expect("rate limiter lock");
        state.enabled.then_some(state.fill_rate)
    }

    /// Takes a token at `now` (seconds since the limiter was made) and says how long to
    /// wait for it. Tokens may go below zero: a caller that has to wait has reserved its
    /// turn, so concurrent callers queue up instead of all waking at once.
    fn reserve_at(&self, now: f64) -> Duration {
        let mut s = self.state.lock().expect("rate limiter lock");
        if !s.enabled {
            return Duration::ZERO;
        }
        s.refill(now);
        s.tokens -= 1.0;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / s.fill_rate)
        }
    }

    fn record_at(&self, now: f64, throttled: bool) {
        let mut s = self.state.lock().expect("rate limiter lock");
        s.measure(now);
        if s.recent.len() == WINDOW {
            s.recent.pop_front();
        }
        s.recent.push_back(throttled);
        let share = s.share();
        let cut = throttled
            && s.recent.len() >= MIN_WINDOW
            && share >= CUT_SHARE
            && now - s.last_throttle >= CUT_INTERVAL;
        let rate = if cut {
            // Before the first measurement, estimate from what was sent so far.
            let measured = if s.measured_rate > 0.0 {
                s.measured_rate
            } else {
                s.bucket_count as f64 / (now - s.bucket_start).max(0.5)
            };
            let base = if s.enabled {
                measured.min(s.fill_rate)
            } else {
                measured
            };
            s.last_max_rate = base;
            s.last_throttle = now;
            s.enabled = true;
            base * BETA
        } else if s.enabled && !throttled {
            s.cubic(now)
        } else {
            // A throttle that does not cut does not let the rate grow either.
            return;
        };
        // Never more than twice what is actually being sent: a rate nobody uses proves
        // nothing about what the service accepts.
        let rate = if s.measured_rate > 0.0 {
            rate.min(2.0 * s.measured_rate)
        } else {
            rate
        };
        s.refill(now);
        s.fill_rate = rate.max(MIN_FILL_RATE);
        s.capacity = rate.max(MIN_CAPACITY);
        s.tokens = s.tokens.min(s.capacity);
    }
}

impl LimiterState {
    /// The share of throttles among the recent answers.
    fn share(&self) -> f64 {
        self.recent.iter().filter(|t| **t).count() as f64 / self.recent.len().max(1) as f64
    }

    fn refill(&mut self, now: f64) {
        let elapsed = (now - self.last_refill).max(0.0);
        self.tokens = (self.tokens + elapsed * self.fill_rate).min(self.capacity);
        self.last_refill = now;
    }

    /// The send rate over half-second buckets, smoothed.
    fn measure(&mut self, now: f64) {
        self.bucket_count += 1;
        let bucket = (now * 2.0).floor() / 2.0;
        if bucket > self.bucket_start {
            let current = self.bucket_count as f64 / (bucket - self.bucket_start);
            self.measured_rate = current * SMOOTHING + self.measured_rate * (1.0 - SMOOTHING);
            self.bucket_count = 0;
            self.bucket_start = bucket;
        }
    }

    /// CUBIC's window growth: back at the last throttled rate after `k` seconds.
    fn cubic(&self, now: f64) -> f64 {
        let k = (self.last_max_rate * (1.0 - BETA) / SCALE).cbrt();
        SCALE * (now - self.last_throttle - k).powi(3) + self.last_max_rate
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
            assert!(policy.delay(1, true) <= Duration::from_secs(1));
            assert!(policy.delay(3, true) <= Duration::from_secs(4));
            assert!(policy.delay(30, true) <= Duration::from_secs(20));
            assert!(policy.delay(1, false) <= Duration::from_millis(100));
            assert!(policy.delay(3, false) <= Duration::from_millis(400));
            assert!(policy.delay(30, false) <= Duration::from_secs(20));
        }
    }

    #[test]
    fn the_rate_limiter_does_nothing_until_throttled() {
        let limiter = RateLimiter::new();
        for i in 0..1000 {
            let now = i as f64 * 0.001;
            assert_eq!(limiter.reserve_at(now), Duration::ZERO);
            limiter.record_at(now, false);
        }
        assert_eq!(limiter.rate(), None);
    }

    /// Sparse throttling (every tenth answer, at any rate) is left to the retries: cutting
    /// the rate at each throttle would collapse it.
    #[test]
    fn sparse_throttling_does_not_cut_the_rate() {
        let limiter = RateLimiter::new();
        for i in 0..5000 {
            let now = i as f64 * 0.01;
            limiter.reserve_at(now);
            limiter.record_at(now, i % 10 == 9);
        }
        assert_eq!(limiter.rate(), None);
        assert!(
            !limiter.under_pressure(),
            "retries of sparse throttles stay quick"
        );
    }

    /// Steady sending at 100 requests/s, then a run of throttles: the rate drops once to
    /// 70% of what was measured, requests beyond it wait, and without further throttling
    /// the rate climbs back past the old maximum along the cubic curve.
    #[test]
    fn throttling_cuts_the_rate_and_it_recovers_along_a_cubic_curve() {
        let limiter = RateLimiter::new();
        let mut now = 0.0;
        while now < 3.0 {
            limiter.reserve_at(now);
            limiter.record_at(now, false);
            now += 0.01;
        }
        for _ in 0..20 {
            limiter.record_at(now, true);
            now += 0.001;
        }
        let cut = limiter.rate().expect("limiting after a run of throttles");
        assert!(limiter.under_pressure(), "retries now wait as the SDKs' do");
        assert!((60.0..=80.0).contains(&cut), "cut to {cut}");

        // A burst of 200 requests at once: they are spread out at the new rate.
        let waits: Vec<Duration> = (0..200).map(|_| limiter.reserve_at(now)).collect();
        let last = waits.last().unwrap().as_secs_f64();
        assert!(
            (200.0 / cut - 2.0..=200.0 / cut + 0.5).contains(&last),
            "the 200th request waits {last} s at {cut}/s"
        );
        assert!(
            waits.windows(2).all(|w| w[0] <= w[1]),
            "first come, first served"
        );

        // Successes at the limited rate: growth is slow near the old maximum (~100/s)...
        let throttled_at = now;
        let mut rates = Vec::new();
        while now < throttled_at + 8.0 {
            now += 1.0 / limiter.rate().unwrap();
            limiter.record_at(now, false);
            rates.push((now - throttled_at, limiter.rate().unwrap()));
        }
        let at = |t: f64| rates.iter().find(|(dt, _)| *dt >= t).unwrap().1;
        assert!(at(1.0) > cut, "growing: {} at 1 s", at(1.0));
        assert!(at(4.0) <= 130.0, "flat near the old maximum: {}", at(4.0));
        assert!(at(7.9) > at(4.0), "then probing beyond it");
    }

    #[test]
    fn repeated_throttling_backs_off_multiplicatively_to_a_floor() {
        let limiter = RateLimiter::new();
        let mut now = 0.0;
        for _ in 0..200 {
            limiter.record_at(now, false);
            now += 0.01;
        }
        let mut rates = Vec::new();
        for _ in 0..60 {
            now += 0.6;
            limiter.record_at(now, true);
            rates.extend(limiter.rate());
        }
        let (first, last) = (rates[0], *rates.last().unwrap());
        assert!(first > 2.0 * last, "cut again and again: {rates:?}");
        assert!(last <= 0.6, "at the floor, or just above it: {last}");
        // At the floor a request still gets through within two seconds.
        assert!(limiter.reserve_at(now + 10.0) <= Duration::from_secs(2));
    }

    #[test]
    fn the_summary_line_names_retries_throttling_and_timeouts() {
        let stats = RequestStats::default();
        stats.attempt(false);
        stats.outcome(Some(&Retryable::Throttled("Throttling".into())), false);
        stats.attempt(true);
        stats.outcome(Some(&Retryable::Transient("t".into())), true);
        stats.attempt(true);
        stats.limited(Duration::from_millis(1500));
        let line = stats.snapshot().summary();
        assert_eq!(
            line,
            "AWS requests: 3 sent, 2 retried (1 throttled, 1 timed out); the client-side \
             rate limit held back 1 request(s), 1.5 s in all"
        );
    }
}
