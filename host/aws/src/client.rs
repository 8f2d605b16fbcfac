//! The host's AWS client: resolve the endpoint, sign, send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::endpoint::{EndpointError, Endpoints};
use super::retry::{RateLimiter, RequestStats, RetryPolicy};
use super::signing::sign_request;
use super::transport::{RawResponse, Transport, TransportError};

/// AWS's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` is escaped.
const AWS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// An AWS API request before the host adds the endpoint and the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsRequest {
    /// SigV4 service name (`ec2`).
    pub service: String,
    /// HTTP method.
    pub method: String,
    /// Path starting with `/`, not yet percent-encoded.
    pub path: String,
    /// Query parameters, not yet encoded.
    pub query: Vec<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl AwsRequest {
    /// A query-protocol call (EC2, RDS, IAM, STS, ...): `POST /` with a form body.
    pub fn query_protocol(
        service: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Self {
        let mut body = format!("Action={}&Version={}", encode(action), encode(version));
        for (k, v) in params {
            body.push('&');
            body.push_str(&encode(k));
            body.push('=');
            body.push_str(&encode(v));
        }
        Self {
            service: service.to_owned(),
            method: "POST".to_owned(),
            path: "/".to_owned(),
            query: Vec::new(),
            headers: vec![(
                "content-type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            )],
            body: body.into_bytes(),
        }
    }
}

/// An AWS response; non-2xx statuses are responses too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl AwsResponse {
    /// True for 2xx statuses.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No usable endpoint for the service and region.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The request itself is malformed (bad method, path or header).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Signing failed.
    #[error("{0}")]
    Signing(String),
    /// The network or the size limit stopped the response.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Rate limiters by (service, region).
type Limiters = HashMap<(String, String), Arc<RateLimiter>>;

/// Signs and sends AWS requests for one set of credentials.
///
/// Cheap to clone; share one per account.
#[derive(Clone)]
pub struct AwsClient {
    credentials: Credentials,
    endpoints: Arc<Endpoints>,
    transport: Arc<dyn Transport>,
    retry: RetryPolicy,
    /// One adaptive rate limiter per (service, region): throttling of EC2 in one region
    /// says nothing about S3 or another region. Shared by clones, so all scans of an
    /// account slow down together.
    limiters: Arc<Mutex<Limiters>>,
    stats: Arc<RequestStats>,
}

impl std::fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClient")
            .field("access_key_id", &self.credentials.access_key_id())
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl AwsClient {
    /// A client that signs with `credentials` and sends through `transport`.
    pub fn new(
        credentials: Credentials,
        endpoints: Endpoints,
        transport: Arc<dyn Transport>,
    ) -> Self {
        Self {
            credentials,
            endpoints: Arc::new(endpoints),
            transport,
            retry: RetryPolicy::default(),
            limiters: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// The same endpoints, transport, retry policy and statistics, signing with other
    /// credentials. Rate limits start afresh: AWS throttles per account.
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            credentials,
            limiters: Arc::default(),
            ..self.clone()
        }
    }

    /// The same client, counting its requests into `stats` (shared, e.g. by every account
    /// of a sync).
    pub fn with_stats(mut self, stats: Arc<RequestStats>) -> Self {
        self.stats = stats;
        self
    }

    /// What this client's requests went through so far.
    pub fn stats(&self) -> Arc<RequestStats> {
        self.stats.clone()
    }

    /// The rate limiter of `service` in `region`.
    pub(super) fn limiter(&self, service: &str, region: &str) -> Arc<RateLimiter> {
        self.limiters
            .lock()
            .expect("rate limiters lock")
            .entry((service.to_owned(), region.to_owned()))
            .or_default()
            .clone()
    }

    /// The same credentials, transport and retry policy, resolving against `endpoints`.
    pub fn with_endpoints(&self, endpoints: Endpoints) -> Self {
        Self {
            endpoints: Arc::new(endpoints),
            ..self.clone()
        }
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The endpoints this client resolves against.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The credentials it signs with.
    pub(super) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The transport it sends through.
    pub(super) fn transport(&self) -> Arc<dyn Transport> {
        self.transport.clone()
    }

    /// How it retries.
    pub(super) fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// Sends `request` to `region`, reading at most `max_body` response bytes. Throttled,
    /// 5xx and network failures are retried under the client's [`RetryPolicy`]; the last
    /// outcome is returned.
    pub async fn send(
        &self,
        request: &AwsRequest,
        region: &str,
        max_body: usize,
    ) -> Result<AwsResponse, SendError> {
        self.send_counted(request, region, max_body, &mut 0).await
    }

    /// [`send`](Self::send), adding each attempt made (retries included) to `attempts`, so
    /// a caller with a request budget can charge every request that went out.
    ///
    /// Each attempt waits for the adaptive rate limiter, then has
    /// [`RetryPolicy::attempt_timeout`]; no retry starts after
    /// [`RetryPolicy::max_elapsed`].
    pub async fn send_counted(
        &self,
        request: &AwsRequest,
        region: &str,
        max_body: usize,
        attempts: &mut u32,
    ) -> Result<AwsResponse, SendError> {
        let started = Instant::now();
        let limiter = self.limiter(&request.service, region);
        let mut attempt = 1;
        loop {
            *attempts += 1;
            self.stats.admit(&limiter, attempt > 1).await;
            let left = self.retry.max_elapsed.saturating_sub(started.elapsed());
            let deadline = self.retry.attempt_timeout.min(left).max(MIN_ATTEMPT);
            let mut outcome =
                match tokio::time::timeout(deadline, self.send_once(request, region, max_body))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(SendError::Transport(TransportError::TimedOut {
                        url: self.url_of(request, region),
                        after: deadline,
                        attempts: attempt,
                        total: started.elapsed(),
                    })),
                };
            match self.stats.settle(&limiter, &outcome) {
                Some(why) if attempt < self.retry.max_attempts => {
                    let wait = self.retry.delay(attempt, limiter.under_pressure());
                    if started.elapsed() + wait + MIN_ATTEMPT > self.retry.max_elapsed {
                        tracing::debug!(service = %request.service, %region, attempt, ?why, "retry budget spent");
                        return outcome;
                    }
                    tracing::debug!(service = %request.service, %region, attempt, ?why, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => {
                    if let Err(SendError::Transport(TransportError::TimedOut { total, .. })) =
                        &mut outcome
                    {
                        *total = started.elapsed();
                    }
                    return outcome;
                }
            }
        }
    }

    /// Where `request` goes, without its query string (it may carry parameters).
    fn url_of(&self, request: &AwsRequest, region: &str) -> String {
        match self.endpoints.resolve(&request.service, region) {
            Ok(resolved) => format!("{}{}", resolved.url, request.path),
            Err(_) => format!("{} in {region}", request.service),
        }
    }

    async fn send_once(
        &self,
        request: &AwsRequest,
        region: &str,
        max_body: usize,
    ) -> Result<AwsResponse, SendError> {
        let resolved = self.endpoints.resolve(&request.service, region)?;
        let mut http_request = build_http_request(&resolved.url, request)?;
        sign_request(
            &mut http_request,
            &self.credentials,
            &request.service,
            &resolved.signing_region,
            SystemTime::now(),
        )
        .map_err(SendError::Signing)?;
        Ok(self.transport.send(http_request, max_body).await?.into())
    }
}

impl From<RawResponse> for AwsResponse {
    fn from(response: RawResponse) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: response.into_body(),
        }
    }
}

/// The shortest deadline an attempt gets, however little of the budget is left: less
/// would only turn slow answers into failures.
const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// A query-protocol call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request was not answered.
    #[error(transparent)]
    Send(#[from] SendError),
    /// AWS answered with an error.
    #[error("{service}:{action} failed in {region}: {code}: {message} (HTTP {status})")]
    Aws {
        /// Service called.
        service: String,
        /// Action called.
        action: String,
        /// Region.
        region: String,
        /// HTTP status.
        status: u16,
        /// AWS error code (`AuthFailure`, `AccessDenied`, ...).
        code: String,
        /// AWS's message.
        message: String,
    },
}

impl QueryError {
    /// A 2xx answer that lacks what the caller needs from it.
    pub fn malformed(
        service: &str,
        action: &str,
        region: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::Aws {
            service: service.to_owned(),
            action: action.to_owned(),
            region: region.to_owned(),
            status: 200,
            code: "MalformedResponse".into(),
            message: message.into(),
        }
    }
}

impl AwsClient {
    /// Calls a query-protocol action and returns the body of a 2xx response.
    pub async fn query(
        &self,
        region: &str,
        service: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<u8>, QueryError> {
        let request = AwsRequest::query_protocol(service, action, version, params);
        let response = self.send(&request, region, 64 << 20).await?;
        if response.is_success() {
            return Ok(response.body);
        }
        let (code, message) = super::xml::error_of(response.status, &response.body);
        Err(QueryError::Aws {
            service: service.to_owned(),
            action: action.to_owned(),
            region: region.to_owned(),
            status: response.status,
            code,
            message,
        })
    }

    /// The 12-digit account id of these credentials (STS GetCallerIdentity).
    pub async fn account_id(&self, region: &str) -> Result<String, QueryError> {
        super::iam::caller_identity(self, region)
            .await
            .map(|(_, account)| account)
    }
}

/// AWS's URI encoding of `s` (RFC 3986 unreserved characters kept, all else escaped).
pub fn aws_encode(s: &str) -> String {
    utf8_percent_encode(s, AWS_ENCODE).to_string()
}

fn encode(s: &str) -> String {
    aws_encode(s)
}

fn build_http_request(
    base: &str,
    request: &AwsRequest,
) -> Result<http::Request<Vec<u8>>, SendError> {
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
        SendError::InvalidRequest(format!("`{}` is not an HTTP method", request.method))
    })?;
    if !request.path.starts_with('/') {
        return Err(SendError::InvalidRequest(format!(
            "path `{}` must start with `/`",
            request.path
        )));
    }
    let mut path = String::new();
    for segment in request.path[1..].split('/') {
        if segment == ".." || segment == "." {
            return Err(SendError::InvalidRequest(format!(
                "path `{}` must not contain `.` or `..` segments",
                request.path
            )));
        }
        path.push('/');
        path.push_str(&encode(segment));
    }
    if path.is_empty() {
        path.push('/');
    }
    let mut uri = format!("{base}{path}");
    if !request.query.is_empty() {
        uri.push('?');
        let pairs: Vec<String> = request
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        uri.push_str(&pairs.join("&"));
    }
    let mut builder = http::Request::builder().method(method).uri(&uri);
    for (name, value) in &request.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            SendError::InvalidRequest(format!("`{name}` is not a valid header name"))
        })?;
        let value = http::HeaderValue::from_str(value).map_err(|_| {
            SendError::InvalidRequest(format!("header `{name}` has an invalid value"))
        })?;
        builder = builder.header(name, value);
    }
    builder
        .body(request.body.clone())
        .map_err(|e| SendError::InvalidRequest(format!("cannot build request for {uri}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_protocol_bodies_are_aws_encoded() {
        let r = AwsRequest::query_protocol(
            "ec2",
            "DescribeInstances",
            "2016-11-15",
            &[("Filter.1.Value.1", "a b/c")],
        );
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Value.1=a%20b%2Fc"
        );
    }

    #[test]
    fn paths_are_encoded_per_segment_and_cannot_escape() {
        let mut r = AwsRequest::query_protocol("s3", "x", "y", &[]);
        r.method = "GET".into();
        r.path = "/my-bucket/a key".into();
        r.query = vec![("list-type".into(), "2".into())];
        let built = build_http_request("http://127.0.0.1:5000", &r).unwrap();
        assert_eq!(
            built.uri(),
            "http://127.0.0.1:5000/my-bucket/a%20key?list-type=2"
        );
        r.path = "/../admin".into();
        assert!(build_http_request("http://127.0.0.1:5000", &r).is_err());
        r.path = "no-slash".into();
        assert!(build_http_request("http://127.0.0.1:5000", &r).is_err());
    }
}
