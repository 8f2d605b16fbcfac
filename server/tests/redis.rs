//! The catalogue in a real Redis (`redis-server` from Debian, one per test on a free port,
//! nothing saved), and what happens when Redis goes away.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::Value;

use crate::api::assert_catalogue_entry;
use crate::common::{call, options, plan, seed_request, skipped, start, Repo};

/// A `redis-server` on a free loopback port, stopped on drop.
struct RedisServer {
    child: Child,
    url: String,
}

impl RedisServer {
    /// Starts one, or `None` when `redis-server` is not installed.
    fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port} in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalogue_lives_in_redis_and_redis_down_is_a_clear_503() {
    let test = "the_catalogue_lives_in_redis_and_redis_down_is_a_clear_503";
    let Some(redis_server) = RedisServer::start() else {
        return skipped(
            test,
            "redis-server is not installed (scripts/setup installs it)",
        );
    };
    let repo = Repo::of_playbooks();
    let commit = repo.head();
    let mut options = options(&repo.path());
    options.redis_url = Some(redis_server.url.clone());
    let server = start(options).await.expect("the server starts with Redis");

    // Written per commit, read back by the endpoints.
    let client = redis::Client::open(redis_server.url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let current: String = connection.get("cloudops:playbooks:current").await.unwrap();
    assert_eq!(current, commit);
    let key = format!("cloudops:playbooks:{commit}");
    let stored: String = connection.hget(&key, "rds.stop-instance").await.unwrap();
    assert_catalogue_entry(&serde_json::from_str::<Value>(&stored).unwrap(), &commit);
    let ttl: i64 = connection.ttl(&key).await.unwrap();
    assert!(ttl > 0, "old commits expire");
    let entry = call(&server, "GET", "/v1/playbooks/rds.stop-instance", None).await;
    assert_catalogue_entry(&entry.json, &commit);
    let health = call(&server, "GET", "/healthz", None).await;
    assert_eq!(health.json["metadata"], "redis");

    // What is served comes from Redis: an entry changed there shows.
    let mut edited: Value = serde_json::from_str(&stored).unwrap();
    edited["title"] = "edited in Redis".into();
    let _: () = connection
        .hset(&key, "rds.stop-instance", edited.to_string())
        .await
        .unwrap();
    let all = call(&server, "GET", "/v1/playbooks", None).await;
    let titles: Vec<&str> = all.json["playbooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert!(titles.contains(&"edited in Redis"), "{titles:?}");
    let playbooks = titles.len();

    // Redis restarted without its data: the served commit's catalogue is written again.
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut connection)
        .await
        .unwrap();
    let one = call(&server, "GET", "/v1/playbooks/rds.stop-instance", None).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_catalogue_entry(&one.json, &commit);
    let restored: bool = connection.exists(&key).await.unwrap();
    assert!(restored, "the hash is back in Redis");
    let all = call(&server, "GET", "/v1/playbooks", None).await;
    assert_eq!(all.json["playbooks"].as_array().unwrap().len(), playbooks);

    drop(redis_server);
    let down = call(&server, "GET", "/v1/playbooks", None).await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert_eq!(down.json["error"]["code"], "metadata_unavailable");
    let message = down.json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Redis") && message.contains("REDIS_URL"),
        "{message}"
    );
    let one = call(&server, "GET", "/v1/playbooks/rds.stop-instance", None).await;
    assert_eq!(one.status, 503);
    // Plans do not need Redis.
    assert_eq!(plan(&server, &seed_request()).await.status, 200);
    server.stop().await;
}
