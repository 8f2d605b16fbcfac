//! Reloads: a broken commit is refused and reported while the previous one serves, a fix is
//! picked up, and a broken library stops the start (in process and as the binary, exit 2).

use std::time::{Duration, Instant};

use cloudops_server::{LoadError, StartError};
use serde_json::{json, Value};

use crate::common::{call, logs, options, plan, seed_request, start, Repo};

const PLAYBOOK: &str = "rds/stop-instance.yaml";

/// Breaks `rds/stop-instance.yaml` (risk level `lowest`) and returns the diagnostic's
/// expected start, `rds/stop-instance.yaml:LINE:`.
fn break_playbook(repo: &Repo) -> String {
    let path = repo.dir.path().join(PLAYBOOK);
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .position(|l| l == "  level: low")
        .expect("the risk level line")
        + 1;
    repo.write(
        PLAYBOOK,
        &text.replacen("  level: low\n", "  level: lowest\n", 1),
    );
    format!("{PLAYBOOK}:{line}:")
}

async fn wait_for(
    server: &cloudops_server::Server,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = call(server, "GET", "/healthz", None).await.json;
        if done(&health) {
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in 60 s: {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_commit_is_refused_while_the_previous_one_serves_and_a_fix_is_picked_up() {
    let repo = Repo::of_playbooks();
    let good = repo.head();
    // A URL: cloned bare into the data folder, fetched by every poll.
    let mut options = options(&format!("file://{}", repo.path()));
    options.poll = Some(Duration::from_millis(200));
    let server = start(options).await.unwrap();

    let expected = break_playbook(&repo);
    let broken = repo.commit("a broken risk level");
    let health = wait_for(&server, "the refusal", |h| {
        h["refused"]["commit"] == broken.as_str()
    })
    .await;
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["commit"], good.as_str());
    let diagnostics: Vec<String> =
        serde_json::from_value(health["refused"]["diagnostics"].clone()).unwrap();
    let diagnostic = diagnostics
        .iter()
        .find(|d| d.starts_with(&expected))
        .unwrap_or_else(|| panic!("no diagnostic at {expected}: {diagnostics:?}"));
    let served = plan(&server, &seed_request()).await;
    assert_eq!(
        served.json["playbook"]["commit"],
        good.as_str(),
        "the previous commit serves"
    );
    let metrics = call(&server, "GET", "/metrics", None).await.text;
    assert!(
        metrics.contains(&format!("commit=\"{broken}\"")),
        "{metrics}"
    );
    assert!(metrics.contains(&expected), "{metrics}");
    assert!(
        metrics.contains("cloudops_reloads_total{result=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(
        logs().contains(diagnostic.as_str()),
        "the log names the problem"
    );
    // Refused once, not rebuilt on every poll or request.
    let again = call(&server, "POST", "/v1/reload", None).await;
    assert_eq!(again.json, json!({"result": "unchanged", "commit": good}));

    repo.write(
        PLAYBOOK,
        &std::fs::read_to_string(crate::common::library_folder().join(PLAYBOOK)).unwrap(),
    );
    let fixed = repo.commit("the risk level fixed");
    let health = wait_for(&server, "the fix", |h| h["commit"] == fixed.as_str()).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["refused"], Value::Null);
    let served = plan(&server, &seed_request()).await;
    assert_eq!(served.json["playbook"]["commit"], fixed.as_str());
    let metrics = call(&server, "GET", "/metrics", None).await.text;
    assert!(
        !metrics.contains(&expected),
        "the refusal is cleared: {metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn post_reload_refuses_a_broken_commit_and_takes_a_good_one() {
    let repo = Repo::of_playbooks();
    let first = repo.head();
    let server = start(options(&repo.path())).await.unwrap();
    let unchanged = call(&server, "POST", "/v1/reload", None).await;
    assert_eq!(unchanged.json["result"], "unchanged");

    let expected = break_playbook(&repo);
    let broken = repo.commit("broken");
    let refused = call(&server, "POST", "/v1/reload", None).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.json["error"]["code"], "library_refused");
    assert_eq!(refused.json["error"]["details"]["commit"], broken.as_str());
    let diagnostics = refused.json["error"]["details"]["diagnostics"]
        .as_array()
        .unwrap();
    assert!(
        diagnostics
            .iter()
            .any(|d| d.as_str().unwrap().starts_with(&expected)),
        "{diagnostics:?}"
    );

    repo.write(
        "rds/stop-instance.yaml",
        &std::fs::read_to_string(crate::common::library_folder().join(PLAYBOOK)).unwrap(),
    );
    repo.write("notes/README.md", "not a playbook: ignored\n");
    let second = repo.commit("fixed, and a note");
    let updated = call(&server, "POST", "/v1/reload", None).await;
    assert_eq!(
        updated.json,
        json!({"result": "updated", "from": first, "to": second})
    );
    let served = plan(&server, &seed_request()).await;
    assert_eq!(served.json["playbook"]["commit"], second.as_str());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_library_stops_the_start_naming_file_line_and_column() {
    let repo = Repo::of_playbooks();
    let expected = break_playbook(&repo);
    repo.commit("broken from the start");
    let Err(StartError::Load(LoadError::Broken { diagnostics, .. })) =
        start(options(&repo.path())).await
    else {
        panic!("a broken library must not start");
    };
    let at = diagnostics
        .iter()
        .find(|d| d.to_string().starts_with(&expected))
        .unwrap_or_else(|| panic!("no diagnostic at {expected}: {diagnostics:?}"));
    assert!(at.column > 0, "{at}");

    // The binary: exit code 2, every problem on stderr.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_cloudops-server"))
        .args([
            "--playbooks",
            &repo.path(),
            "--listen",
            "127.0.0.1:0",
            "--poll-seconds",
            "0",
        ])
        .env_remove("REDIS_URL")
        .env_remove("QDRANT_URL")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&at.to_string()), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_reloads_on_sighup_and_stops_cleanly_on_sigterm() {
    let repo = Repo::of_playbooks();
    let first = repo.head();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cloudops-server"))
        .args([
            "--playbooks",
            &repo.path(),
            "--listen",
            &addr,
            "--poll-seconds",
            "0",
        ])
        .env_remove("REDIS_URL")
        .env_remove("QDRANT_URL")
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let health = |addr: String| async move {
        let url = format!("http://{addr}/healthz");
        match reqwest::get(url).await {
            Ok(r) => serde_json::from_str::<Value>(&r.text().await.ok()?).ok(),
            Err(_) => None,
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let commit_is = |c: &str, h: &Option<Value>| h.as_ref().is_some_and(|h| h["commit"] == c);
    while !commit_is(&first, &health(addr.clone()).await) {
        assert!(
            Instant::now() < deadline,
            "the binary did not serve {first} in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    repo.write("notes/README.md", "a second commit\n");
    let second = repo.commit("a second commit");
    let pid = child.id().unwrap().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    while !commit_is(&second, &health(addr.clone()).await) {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload to {second}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM stops it cleanly");
}
