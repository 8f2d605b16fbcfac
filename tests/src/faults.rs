//! A fault-injecting HTTP proxy on loopback, between cloudops and the AWS emulator.
//!
//! Requests are forwarded to the emulator unchanged; [`Rule`]s pick some of them (by
//! service and by words of the request, such as `Action=DescribeInstances` or `?tagging`)
//! and answer them badly instead, the ways AWS and networks fail: throttling and 5xx
//! errors in the service's own error format, connections reset before an answer, bodies
//! cut off mid-transfer, bodies cut short or replaced with garbage behind a `200`, one item
//! of a listing damaged, slow answers. The proxy counts what it did, so a test can tell
//! a sync that saw no fault from one that survived them.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What a picked request gets instead of the emulator's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The service's throttling error (`Throttling`, `RequestLimitExceeded`, `SlowDown`,
    /// `TooManyRequestsException`), not forwarded.
    Throttle,
    /// A 500 `InternalError` in the service's error format, not forwarded.
    ServerError,
    /// The connection is closed with no answer, not forwarded.
    Reset,
    /// Forwarded; the status and the full `content-length` are sent, then half the body,
    /// then the connection is dropped.
    Truncate,
    /// Forwarded; a `200` whose body is the first half of the real one, with a matching
    /// `content-length`: a well-framed answer holding a broken document.
    CutShort,
    /// Forwarded; a `200` whose body is not a document of any kind.
    Garbage,
    /// Forwarded; the first value of this element (XML `<name>…</name>`) or key (JSON
    /// `"name": "…"`) in the body is emptied: one item of a listing damaged.
    Blank(String),
    /// Forwarded after this delay.
    Delay(Duration),
}

/// Which requests a [`Rule`] picks among those it matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    /// Every one.
    All,
    /// Every `n`-th (the `n`-th, the `2n`-th, ...).
    Every(u64),
    /// Each with this probability.
    Share(f64),
    /// The first `n`.
    First(u64),
    /// Every `n`-th, but never the same request twice: a retry (the same method, path,
    /// target and body) passes, so the fault is one the client can recover from.
    EveryOnce(u64),
}

/// A fault for the requests that match.
#[derive(Debug, Clone)]
pub struct Rule {
    service: Option<String>,
    words: Vec<String>,
    pick: Pick,
    fault: Fault,
}

impl Rule {
    /// `fault` for every request; narrow it with [`Rule::service`], [`Rule::with`] and
    /// [`Rule::pick`].
    pub fn new(fault: Fault) -> Self {
        Self {
            service: None,
            words: Vec::new(),
            pick: Pick::All,
            fault,
        }
    }

    /// Only requests signed for this service (`ec2`, `s3`, `lambda`, ...).
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// Only requests whose description contains `word`: the method, the path and query
    /// (`GET /bucket?tagging`), and the form body or `X-Amz-Target` of the request
    /// (`Action=DescribeInstances`).
    pub fn with(mut self, word: &str) -> Self {
        self.words.push(word.to_owned());
        self
    }

    /// Which of the matching requests get the fault.
    pub fn pick(mut self, pick: Pick) -> Self {
        self.pick = pick;
        self
    }

    fn matches(&self, service: &str, description: &str) -> bool {
        self.service.as_deref().is_none_or(|s| s == service)
            && self.words.iter().all(|w| description.contains(w.as_str()))
    }
}

/// What the proxy did, for a test's assertions and a bench's report.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests answered with a fault.
    pub faults: AtomicU64,
}

/// A rule and what it has seen.
struct Picking {
    rule: Rule,
    seen: u64,
    faulted: std::collections::HashSet<u64>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    rules: Mutex<Vec<Picking>>,
    stats: ProxyStats,
}

/// The proxy: serves on `url()` until dropped.
pub struct FaultProxy {
    url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (the emulator's URL) on a free loopback port,
    /// with no rules: every request is forwarded as it is.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            rules: Mutex::new(Vec::new()),
            stats: ProxyStats::default(),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { shared.answer(request).await }
                    });
                    // A reset or truncation ends the connection with an error: expected.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Self { url, shared, task }
    }

    /// The proxy's URL, for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Replaces the rules (the first matching rule decides) and resets their counters.
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.shared.rules.lock().unwrap() = rules
            .into_iter()
            .map(|rule| Picking {
                rule,
                seen: 0,
                faulted: Default::default(),
            })
            .collect();
    }

    /// Requests received and faults injected since the proxy started.
    pub fn counts(&self) -> (u64, u64) {
        let stats = &self.shared.stats;
        (
            stats.requests.load(Ordering::Relaxed),
            stats.faults.load(Ordering::Relaxed),
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Answer = Response<http_body_util::combinators::BoxBody<Bytes, std::io::Error>>;

impl Shared {
    async fn answer(&self, request: Request<Incoming>) -> Result<Answer, std::io::Error> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let (head, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        let service = signed_service(&head.headers).unwrap_or_default();
        let description = describe(&head, &body);
        let fault = self.pick(&service, &description, &body);
        if fault.is_some() {
            self.stats.faults.fetch_add(1, Ordering::Relaxed);
        }
        match fault {
            Some(Fault::Throttle) => return Ok(error_answer(&service, Failure::Throttled)),
            Some(Fault::ServerError) => return Ok(error_answer(&service, Failure::Internal)),
            Some(Fault::Reset) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                ))
            }
            Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
            _ => {}
        }
        let (status, headers, body) = self.forward(&head, body).await?;
        let mut answer = Response::builder().status(status);
        for (name, value) in headers.iter() {
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                answer = answer.header(name, value);
            }
        }
        // Damage behind a success status: what the client must notice by reading.
        if matches!(
            fault,
            Some(Fault::CutShort | Fault::Garbage | Fault::Blank(_))
        ) {
            answer = answer.status(200);
        }
        let body = match fault {
            Some(Fault::Truncate) => {
                answer = answer.header("content-length", body.len());
                Cut(Some(body.slice(..body.len() / 2))).boxed()
            }
            Some(Fault::CutShort) => whole(body.slice(..body.len() / 2)),
            Some(Fault::Garbage) => whole(Bytes::from_static(b"\x00\x17<<not a document{{")),
            Some(Fault::Blank(name)) => whole(blank_first(&body, &name)),
            _ => whole(body),
        };
        Ok(answer.body(body).expect("a valid response"))
    }

    fn pick(&self, service: &str, description: &str, body: &[u8]) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        let picking = rules
            .iter_mut()
            .find(|p| p.rule.matches(service, description))?;
        picking.seen += 1;
        let seen = picking.seen;
        let picked = match picking.rule.pick {
            Pick::All => true,
            Pick::Every(n) => seen % n.max(1) == 0,
            Pick::Share(p) => fastrand::f64() < p,
            Pick::First(n) => seen <= n,
            Pick::EveryOnce(n) => {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                (description, body).hash(&mut hasher);
                seen % n.max(1) == 0 && picking.faulted.insert(hasher.finish())
            }
        };
        picked.then(|| picking.rule.fault.clone())
    }

    async fn forward(
        &self,
        head: &hyper::http::request::Parts,
        body: Bytes,
    ) -> Result<(u16, reqwest::header::HeaderMap, Bytes), std::io::Error> {
        let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
        let method = reqwest::Method::from_bytes(head.method.as_str().as_bytes())
            .map_err(std::io::Error::other)?;
        let mut forwarded = self
            .client
            .request(method, format!("{}{path}", self.upstream))
            .body(body);
        for (name, value) in head.headers.iter() {
            if name.as_str() != "content-length" {
                forwarded = forwarded.header(name.as_str(), value.as_bytes());
            }
        }
        let answer = forwarded.send().await.map_err(std::io::Error::other)?;
        let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
        let body = answer.bytes().await.map_err(std::io::Error::other)?;
        Ok((status, headers, body))
    }
}

fn whole(body: Bytes) -> http_body_util::combinators::BoxBody<Bytes, std::io::Error> {
    Full::new(body).map_err(|e: Infallible| match e {}).boxed()
}

/// A body that sends its bytes, then fails: hyper drops the connection mid-answer.
struct Cut(Option<Bytes>);

impl Body for Cut {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(match self.0.take() {
            Some(part) => Ok(Frame::data(part)),
            None => Err(std::io::Error::other("injected truncation")),
        }))
    }
}

/// The service a SigV4 `Authorization` header is scoped to.
fn signed_service(headers: &hyper::HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
    scope.split('/').nth(3).map(str::to_owned)
}

/// `METHOD path?query target body-if-form`, what [`Rule::with`] words are looked for in.
fn describe(head: &hyper::http::request::Parts, body: &[u8]) -> String {
    let target = head
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .unwrap_or("");
    let form = head
        .headers
        .get("content-type")
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = if form {
        String::from_utf8_lossy(body)
    } else {
        "".into()
    };
    format!("{} {path} {target} {body}", head.method)
}

enum Failure {
    Throttled,
    Internal,
}

/// An error answer as `service` words it (query, EC2, REST-XML or REST-JSON protocol).
fn error_answer(service: &str, failure: Failure) -> Answer {
    let (status, code) = match (service, &failure) {
        ("ec2", Failure::Throttled) => (503, "RequestLimitExceeded"),
        ("s3", Failure::Throttled) => (503, "SlowDown"),
        ("lambda", Failure::Throttled) => (429, "TooManyRequestsException"),
        (_, Failure::Throttled) => (400, "Throttling"),
        ("lambda", Failure::Internal) => (500, "ServiceException"),
        (_, Failure::Internal) => (500, "InternalError"),
    };
    let message = "injected by the test proxy";
    let (content_type, body) = match service {
        "ec2" => (
            "text/xml",
            format!(
                "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>\
                 </Error></Errors><RequestID>x</RequestID></Response>"
            ),
        ),
        "s3" => (
            "application/xml",
            format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        ),
        "lambda" => (
            "application/json",
            format!(r#"{{"Type":"User","message":"{message}"}}"#),
        ),
        _ => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
            ),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-errortype", code)
        .body(whole(Bytes::from(body)))
        .expect("a valid response")
}

/// `body` with the first value of element or key `name` emptied.
fn blank_first(body: &[u8], name: &str) -> Bytes {
    let text = String::from_utf8_lossy(body);
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    if let Some(start) = text.find(&open) {
        let from = start + open.len();
        if let Some(len) = text[from..].find(&close) {
            return Bytes::from(format!("{}{}", &text[..from], &text[from + len..]));
        }
    }
    let key = format!("\"{name}\":");
    if let Some(start) = text.find(&key) {
        let value = start + key.len();
        let rest = text[value..].trim_start();
        let skipped = text.len() - value - rest.len();
        if let Some(quoted) = rest.strip_prefix('"') {
            if let Some(len) = quoted.find('"') {
                let end = value + skipped + 1 + len + 1;
                return Bytes::from(format!("{}\"\"{}", &text[..value], &text[end..]));
            }
        }
    }
    Bytes::copy_from_slice(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_empties_the_first_value_of_an_element_or_a_key() {
        let xml = b"<a><instanceId>i-1</instanceId><instanceId>i-2</instanceId></a>";
        assert_eq!(
            &blank_first(xml, "instanceId")[..],
            b"<a><instanceId></instanceId><instanceId>i-2</instanceId></a>"
        );
        let json = br#"{"Functions":[{"FunctionName": "f1"},{"FunctionName":"f2"}]}"#;
        assert_eq!(
            &blank_first(json, "FunctionName")[..],
            br#"{"Functions":[{"FunctionName":""},{"FunctionName":"f2"}]}"#
        );
        assert_eq!(&blank_first(b"nothing", "x")[..], b"nothing");
    }

    #[test]
    fn rules_match_by_service_and_words() {
        let rule = Rule::new(Fault::Throttle).service("s3").with("?tagging");
        assert!(rule.matches("s3", "GET /bucket?tagging  "));
        assert!(!rule.matches("s3", "GET /bucket?location  "));
        assert!(!rule.matches("ec2", "GET /bucket?tagging  "));
    }
}
