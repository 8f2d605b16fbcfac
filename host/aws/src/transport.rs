//! Sending signed requests over HTTP.
//!
//! A trait so the plugin benchmarks can measure the host without the network; the
//! product always uses [`HttpTransport`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A request failed before a complete response arrived.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// Connecting, sending or receiving failed.
    #[error("cannot reach {url}: {reason}")]
    Network {
        /// Where the request went (no query string: it may carry parameters).
        url: String,
        /// The underlying error, without credentials.
        reason: String,
    },
    /// No complete answer before the attempt's deadline.
    #[error(
        "{url} did not answer: timed out after {} s{}; check the network and the endpoint \
         (CLOUDOPS_AWS_TIMEOUT sets the seconds one attempt may take)",
        fmt_secs(*.after), attempts_note(*.attempts, *.total)
    )]
    TimedOut {
        /// Where the request went.
        url: String,
        /// The deadline of the last attempt.
        after: Duration,
        /// Attempts made, all timed out or failed.
        attempts: u32,
        /// Time spent on all of them, waits included.
        total: Duration,
    },
    /// The response body exceeded the caller's limit.
    #[error("response from {url} is larger than the {limit}-byte limit")]
    TooLarge {
        /// Where the request went.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

fn attempts_note(attempts: u32, total: Duration) -> String {
    if attempts > 1 {
        format!(" ({attempts} attempts in {} s)", fmt_secs(total))
    } else {
        String::new()
    }
}

/// A response, fully read.
pub type RawResponse = http::Response<Vec<u8>>;

/// Boxed future returned by [`Transport::send`].
pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<RawResponse, TransportError>> + Send + 'a>>;

/// Sends a signed request and reads at most `max_body` bytes of the response.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request`; a body longer than `max_body` is an error, not a truncation.
    fn send(&self, request: http::Request<Vec<u8>>, max_body: usize) -> SendFuture<'_>;
}

/// The real transport: reqwest with rustls, connection pooling and timeouts.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport with sane timeouts (10 s connect, 120 s per request) that never
    /// follows a redirect: a signed request, with its session token, goes to the endpoint
    /// the host chose and nowhere else.
    pub fn new() -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| TransportError::Network {
                url: String::new(),
                reason: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(Self { client })
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: http::Request<Vec<u8>>, max_body: usize) -> SendFuture<'_> {
        Box::pin(async move {
            let url = {
                let uri = request.uri();
                format!(
                    "{}://{}{}",
                    uri.scheme_str().unwrap_or("https"),
                    uri.authority().map(|a| a.as_str()).unwrap_or(""),
                    uri.path()
                )
            };
            let network = |e: reqwest::Error| TransportError::Network {
                url: url.clone(),
                // Without the URL: reqwest would repeat it, query string included.
                reason: e.without_url().to_string(),
            };
            let request = reqwest::Request::try_from(request).map_err(network)?;
            let mut response = self.client.execute(request).await.map_err(network)?;
            if response
                .content_length()
                .is_some_and(|n| n > max_body as u64)
            {
                return Err(TransportError::TooLarge {
                    url,
                    limit: max_body,
                });
            }
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(network)? {
                if body.len() + chunk.len() > max_body {
                    return Err(TransportError::TooLarge {
                        url,
                        limit: max_body,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(builder
                .body(body)
                .expect("status and headers came from a valid response"))
        })
    }
}
