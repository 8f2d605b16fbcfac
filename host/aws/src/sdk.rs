//! The AWS SDK's STS and IAM clients for the host's own calls (who the credentials are,
//! AssumeRole, GetRole, SimulatePrincipalPolicy), set up like the host's [`AwsClient`].
//!
//! The SDK serializes, signs, parses, paginates, classifies errors and retries. What it
//! gets from the host: the client's credentials; the endpoint and signing region
//! [`Endpoints::resolve`](super::Endpoints::resolve) picks (so `AWS_ENDPOINT_URL` and the
//! emulator work as for every other request); the retry policy as the SDK's standard mode
//! (attempts, backoff, the attempt deadline and the budget of all attempts); and the HTTP
//! client: every attempt goes through the host's [`Transport`] (no redirects, a body
//! limit), waits for the client's rate limiter and is counted in its [`RequestStats`],
//! like a plugin's request.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::identity::IdentityCache;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use super::client::{AwsClient, AwsResponse, QueryError, SendError};
use super::retry::{RateLimiter, RequestStats};
use super::transport::{Transport, TransportError};
use super::xml::error_of;

/// Response bytes one STS or IAM answer may have (as for the host's query calls).
const MAX_BODY: usize = 64 << 20;

/// SDK configuration for one service in one region, and what its errors are told with.
pub(super) struct Sdk {
    config: SdkConfig,
    service: &'static str,
    region: String,
    url: String,
    attempt_timeout: Duration,
    /// The attempt number of the request sent last (the SDK's `amz-sdk-request` header).
    last_attempt: Arc<AtomicU32>,
}

impl Sdk {
    /// `client`'s credentials, endpoint, retry policy, transport, rate limiter and statistics
    /// for `service` (`sts`, `iam`) in `region`.
    pub(super) fn new(
        client: &AwsClient,
        service: &'static str,
        region: &str,
    ) -> Result<Self, QueryError> {
        let resolved = client
            .endpoints()
            .resolve(service, region)
            .map_err(SendError::from)?;
        let retry = client.retry();
        let last_attempt = Arc::new(AtomicU32::new(0));
        let connector = Connector {
            transport: client.transport(),
            limiter: client.limiter(service, region),
            stats: client.stats(),
            last_attempt: last_attempt.clone(),
        };
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .credentials_provider(SharedCredentialsProvider::new(client.credentials().clone()))
            // Static keys in memory: nothing to cache or refresh.
            .identity_cache(IdentityCache::no_cache())
            // The SDK signs for the region of its config when the endpoint is given: IAM's
            // is us-east-1 whatever the caller's region (Endpoints::resolve says which).
            .region(Region::new(resolved.signing_region))
            .endpoint_url(resolved.url.clone())
            .http_client(connector)
            .sleep_impl(TokioSleep::new())
            // Standard mode without a retry spec: retries back off from `quick_delay`, as
            // AwsClient::send does for sporadic failures; under heavy throttling every
            // attempt still waits for the host's rate limiter (the connector's `admit`), and
            // the SDK's retry quota bounds a storm.
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(retry.max_attempts)
                    .with_initial_backoff(retry.quick_delay)
                    .with_max_backoff(retry.max_delay),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(retry.attempt_timeout)
                    .operation_timeout(retry.max_elapsed)
                    .build(),
            )
            // The transport reads each answer whole (within the attempt deadline) before
            // the SDK sees it: there is no stream to stall.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build();
        Ok(Self {
            config,
            service,
            region: region.to_owned(),
            url: resolved.url,
            attempt_timeout: retry.attempt_timeout,
            last_attempt,
        })
    }

    /// An STS client.
    pub(super) fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    /// An IAM client.
    pub(super) fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    /// Runs one SDK operation (`action`, for errors) and turns its error into the host's
    /// words: `sts:AssumeRole failed in us-east-1: AccessDenied: ... (HTTP 403)`, "cannot
    /// reach", "timed out after N s".
    pub(super) async fn run<T, E>(
        &self,
        action: &str,
        operation: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, QueryError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let started = Instant::now();
        operation
            .await
            .map_err(|e| self.error(action, e, started.elapsed()))
    }

    fn error<E>(&self, action: &str, error: SdkError<E, HttpResponse>, took: Duration) -> QueryError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let aws = |status: u16, code: String, message: String| QueryError::Aws {
            service: self.service.to_owned(),
            action: action.to_owned(),
            region: self.region.clone(),
            status,
            code,
            message,
        };
        let transport = |e: TransportError| QueryError::Send(SendError::Transport(e));
        // The error and its sources, for the kinds the host has no words of its own for.
        let context = DisplayErrorContext(&error).to_string();
        match error {
            SdkError::ServiceError(e) => {
                let status = e.raw().status().as_u16();
                match e.err().code() {
                    Some(code) => aws(
                        status,
                        code.to_owned(),
                        e.err().message().unwrap_or_default().to_owned(),
                    ),
                    // Not an AWS error document (a proxy's HTML page, an emulator's JSON):
                    // described as the host's query calls describe it.
                    None => {
                        let body = e.raw().body().bytes().unwrap_or_default();
                        let (code, message) = error_of(status, body);
                        aws(status, code, message)
                    }
                }
            }
            SdkError::TimeoutError(_) => transport(TransportError::TimedOut {
                url: self.url.clone(),
                after: self.attempt_timeout,
                attempts: self.last_attempt.load(Ordering::Relaxed).max(1),
                total: took,
            }),
            SdkError::DispatchFailure(e) => {
                let sent = e
                    .as_connector_error()
                    .and_then(|c| std::error::Error::source(c))
                    .and_then(|s| s.downcast_ref::<TransportError>())
                    .cloned();
                transport(sent.unwrap_or_else(|| TransportError::Network {
                    url: self.url.clone(),
                    reason: context,
                }))
            }
            SdkError::ResponseError(e) => aws(
                e.raw().status().as_u16(),
                "MalformedResponse".into(),
                // A credentials answer that cannot be read is not quoted, not even in part.
                if action == "AssumeRole" {
                    format!("cannot read the {action} response")
                } else {
                    format!("cannot read the {action} response: {context}")
                },
            ),
            _ => QueryError::Send(SendError::InvalidRequest(context)),
        }
    }
}

/// The SDK's HTTP client: the host's transport, rate limiter and statistics.
#[derive(Clone)]
struct Connector {
    transport: Arc<dyn Transport>,
    limiter: Arc<RateLimiter>,
    stats: Arc<RequestStats>,
    last_attempt: Arc<AtomicU32>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

impl HttpClient for Connector {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        // The transport has its own connect timeout and pool; the attempt deadline is the
        // SDK's (operation_attempt_timeout).
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        HttpConnectorFuture::new(async move { this.send(request).await })
    }
}

impl Connector {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
        let attempt = attempt_of(&request);
        self.last_attempt.store(attempt, Ordering::Relaxed);
        self.stats.admit(&self.limiter, attempt > 1).await;
        let request = request
            .try_into_http1x()
            .map_err(|e| ConnectorError::user(e.into()))?;
        let (parts, body) = request.into_parts();
        let body = body
            .bytes()
            .ok_or_else(|| ConnectorError::user("a streaming request body".into()))?
            .to_vec();
        let request = http::Request::from_parts(parts, body);
        let in_flight = InFlight(Some(&self.stats));
        let outcome = self
            .transport
            .send(request, MAX_BODY)
            .await
            .map(AwsResponse::from)
            .map_err(SendError::Transport);
        in_flight.answered();
        self.stats.settle(&self.limiter, &outcome);
        match outcome {
            Ok(response) => response_of(response),
            Err(SendError::Transport(e @ TransportError::Network { .. })) => {
                Err(ConnectorError::io(e.into()))
            }
            Err(SendError::Transport(e @ TransportError::TimedOut { .. })) => {
                Err(ConnectorError::timeout(e.into()))
            }
            // A larger answer next time is no better: not retried.
            Err(e) => Err(ConnectorError::other(e.into(), None)),
        }
    }
}

/// The attempt number the SDK writes into each request (`amz-sdk-request: attempt=2;
/// max=3`); 1 when absent.
fn attempt_of(request: &HttpRequest) -> u32 {
    request
        .headers()
        .get("amz-sdk-request")
        .and_then(|v| {
            v.split(';')
                .find_map(|part| part.trim().strip_prefix("attempt="))
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

fn response_of(response: AwsResponse) -> Result<HttpResponse, ConnectorError> {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name, value);
    }
    // A body the SDK reads as a stream: an in-memory one would be printed whole by its
    // trace logging of responses, AssumeRole's keys included.
    let body = SdkBody::from_body_1_x(http_body_util::Full::new(bytes::Bytes::from(response.body)));
    builder
        .body(body)
        .map_err(|e| ConnectorError::other(e.into(), None))
        .and_then(|r| HttpResponse::try_from(r).map_err(|e| ConnectorError::other(e.into(), None)))
}

/// An attempt on the wire. The SDK drops it unanswered only at its deadline: that counts
/// as a timeout in the statistics.
struct InFlight<'a>(Option<&'a RequestStats>);

impl InFlight<'_> {
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(stats) = self.0 {
            stats.outcome(None, true);
        }
    }
}
