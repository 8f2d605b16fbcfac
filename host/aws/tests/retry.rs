//! Retries over a real HTTP connection: a loopback peer that throttles, then answers.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cloudops_aws::{AwsClient, AwsRequest, Credentials, Endpoints, HttpTransport, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `answers` in order (repeating the last), one per connection; counts requests.
async fn peer(answers: Vec<(u16, &'static str)>) -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU32::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst) as usize;
            let (status, body) = answers[n.min(answers.len() - 1)];
            // Read the request head and body before answering, as a server would.
            let mut buf = vec![0u8; 64 * 1024];
            let mut read = 0;
            loop {
                let got = socket.read(&mut buf[read..]).await.unwrap_or(0);
                read += got;
                let text = String::from_utf8_lossy(&buf[..read]);
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if read >= head_end + 4 + length {
                        break;
                    }
                }
                if got == 0 {
                    break;
                }
            }
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (url, count)
}

fn client(url: &str, attempts: u32) -> AwsClient {
    AwsClient::new(
        Credentials::from_keys("AKIDEXAMPLE", "secret", None),
        Endpoints::default().with_global(url),
        Arc::new(HttpTransport::new().unwrap()),
    )
    .with_retry(RetryPolicy {
        max_attempts: attempts,
        quick_delay: Duration::from_millis(5),
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    })
}

const THROTTLED: &str = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down</Message></Error></Errors></Response>";
const OK: &str = "<DescribeInstancesResponse><reservationSet/></DescribeInstancesResponse>";

#[tokio::test]
async fn throttled_requests_are_retried_until_they_succeed() {
    let (url, count) = peer(vec![(503, THROTTLED), (503, THROTTLED), (200, OK)]).await;
    let request = AwsRequest::query_protocol("ec2", "DescribeInstances", "2016-11-15", &[]);
    let response = client(&url, 3)
        .send(&request, "us-west-2", 1 << 20)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_stop_at_the_limit_and_return_the_last_answer() {
    let (url, count) = peer(vec![(503, THROTTLED)]).await;
    let request = AwsRequest::query_protocol("ec2", "DescribeInstances", "2016-11-15", &[]);
    let response = client(&url, 2)
        .send(&request, "us-west-2", 1 << 20)
        .await
        .unwrap();
    assert_eq!(response.status, 503);
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (url, count) = peer(vec![(
        403,
        "<Response><Errors><Error><Code>UnauthorizedOperation</Code></Error></Errors></Response>",
    )])
    .await;
    let request = AwsRequest::query_protocol("ec2", "DescribeInstances", "2016-11-15", &[]);
    let response = client(&url, 3)
        .send(&request, "us-west-2", 1 << 20)
        .await
        .unwrap();
    assert_eq!(response.status, 403);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// A loopback peer that accepts connections, reads what it is sent and never answers.
async fn silent_peer() -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU32::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 64 * 1024];
            let _ = socket.read(&mut buf).await;
            // Kept open: the client must give up by itself.
            held.push(socket);
        }
    });
    (url, count)
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out_within_the_budget_and_says_so() {
    let (url, count) = silent_peer().await;
    let client = client(&url, 3).with_retry(RetryPolicy {
        max_attempts: 3,
        quick_delay: Duration::from_millis(5),
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        attempt_timeout: Duration::from_secs(1),
        max_elapsed: Duration::from_millis(2800),
    });
    let request = AwsRequest::query_protocol("ec2", "DescribeInstances", "2016-11-15", &[]);
    let started = std::time::Instant::now();
    let mut attempts = 0;
    let error = client
        .send_counted(&request, "us-west-2", 1 << 20, &mut attempts)
        .await
        .unwrap_err()
        .to_string();
    let took = started.elapsed();
    eprintln!("gave up after {took:?} and {attempts} attempts: {error}");
    assert!(error.contains("timed out after"), "{error}");
    assert!(
        error.contains("CLOUDOPS_AWS_TIMEOUT"),
        "says what to do: {error}"
    );
    // Two full attempts of 1 s, then a third cut to what is left of the 2.8 s budget.
    assert_eq!(attempts, 3);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(
        took >= Duration::from_millis(2700) && took < Duration::from_millis(3600),
        "{took:?}"
    );
    let stats = client.stats().snapshot();
    assert_eq!((stats.attempts, stats.retries, stats.timed_out), (3, 2, 3));
}

#[tokio::test]
async fn the_retry_budget_ends_retries_before_the_attempts_run_out() {
    let (url, count) = silent_peer().await;
    let client = client(&url, 10).with_retry(RetryPolicy {
        max_attempts: 10,
        quick_delay: Duration::from_millis(5),
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        attempt_timeout: Duration::from_millis(600),
        max_elapsed: Duration::from_millis(1300),
    });
    let request = AwsRequest::query_protocol("ec2", "DescribeInstances", "2016-11-15", &[]);
    let started = std::time::Instant::now();
    let error = client
        .send(&request, "us-west-2", 1 << 20)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("timed out after"), "{error}");
    assert!(started.elapsed() < Duration::from_millis(2000));
    assert!(
        count.load(Ordering::SeqCst) < 4,
        "{}",
        count.load(Ordering::SeqCst)
    );
}

/// Every request throttled: after ten such answers the adaptive limiter turns on, and the
/// client's statistics count each throttle and retry.
#[tokio::test]
async fn throttling_turns_on_the_rate_limiter_and_is_counted() {
    let (url, _) = peer(vec![(503, THROTTLED)]).await;
    let client = client(&url, 2);
    let request = AwsRequest::query_protocol("ec2", "DescribeInstances", "2016-11-15", &[]);
    for _ in 0..6 {
        let response = client.send(&request, "us-west-2", 1 << 20).await.unwrap();
        assert_eq!(response.status, 503);
    }
    let stats = client.stats().snapshot();
    assert_eq!(
        (stats.attempts, stats.retries, stats.throttled),
        (12, 6, 12)
    );
    assert!(stats.rate_limited > 0, "{stats:?}");
    assert!(
        stats.summary().contains("12 throttled"),
        "{}",
        stats.summary()
    );
}
