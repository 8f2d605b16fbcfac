//! The HTTP API over the real library: the seed example, the catalogue, refusals, credentials
//! and metrics.

use serde_json::{json, Value};

use crate::common::{call, logs, options, plan, seed_request, skipped, start, Repo};

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_example_is_planned_at_the_served_commit() {
    let repo = Repo::of_playbooks();
    let server = start(options(&repo.path()))
        .await
        .expect("the server starts");
    let answer = plan(&server, &seed_request()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let plan = &answer.json;
    assert_eq!(plan["playbook"]["id"], "rds.stop-instance");
    assert_eq!(plan["playbook"]["commit"], repo.head().as_str());
    let step = &plan["steps"][0];
    assert_eq!(step["action"], "rds:StopDBInstance");
    assert_eq!(step["params"]["DBInstanceIdentifier"], "pg-instance-main1");
    assert_eq!(step["target"]["region"], "us-west-2");
    assert_eq!(
        step["cli"],
        "aws rds stop-db-instance --db-instance-identifier pg-instance-main1 --region us-west-2"
    );
    assert_eq!(plan["risk"]["level"], "medium");
    assert_eq!(plan["approval_required"], true);
    assert_eq!(plan["runnable"], true);
    let explain = plan["explain"].as_str().unwrap();
    for fact in ["production", "Multi-AZ"] {
        assert!(explain.contains(fact), "{explain}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalogue_lists_and_finds_playbooks_and_names_unknown_ids() {
    let repo = Repo::of_playbooks();
    let server = start(options(&repo.path())).await.unwrap();
    let all = call(&server, "GET", "/v1/playbooks", None).await;
    assert_eq!(all.status, 200);
    let playbooks = all.json["playbooks"].as_array().unwrap();
    assert!(playbooks.len() >= 2);
    assert_eq!(all.json["commit"], repo.head().as_str());
    let stop = call(&server, "GET", "/v1/playbooks/rds.stop-instance", None).await;
    assert_eq!(stop.status, 200);
    assert_catalogue_entry(&stop.json, &repo.head());
    let unknown = call(&server, "GET", "/v1/playbooks/rds.dance", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json["error"]["code"], "no_such_playbook");
    assert!(unknown.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("rds.dance"));
    let health = call(&server, "GET", "/healthz", None).await;
    assert_eq!(health.json["status"], "ok");
    assert_eq!(health.json["metadata"], "in-process");
    let nowhere = call(&server, "GET", "/v2/plan", None).await;
    assert_eq!(
        (nowhere.status, &nowhere.json["error"]["code"]),
        (404, &json!("no_such_route"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_library_in_a_folder_of_the_repository_is_served_with_path() {
    let repo = Repo::with_playbooks_in("ops/playbooks");
    repo.write("ops/other/stray.yaml", "not: a playbook\n");
    repo.commit("a broken file outside the library's folder");
    let mut options = options(&repo.path());
    options.subdir = "ops/playbooks".into();
    let server = start(options).await.expect("only the folder is read");
    let entry = call(&server, "GET", "/v1/playbooks/rds.stop-instance", None).await;
    assert_catalogue_entry(&entry.json, &repo.head());
    assert_eq!(plan(&server, &seed_request()).await.status, 200);
    server.stop().await;
}

/// The fields `GET /v1/playbooks/{id}` promises, for `rds.stop-instance`.
pub fn assert_catalogue_entry(entry: &Value, commit: &str) {
    assert_eq!(entry["id"], "rds.stop-instance");
    assert_eq!(entry["service"], "rds");
    assert_eq!(entry["operation"], "stop");
    assert_eq!(entry["applies_to"], json!(["rds_instance"]));
    assert_eq!(entry["risk"], "low");
    assert_eq!(entry["commit"], commit);
    assert_eq!(entry["parameters"][0]["from"], "identifier");
    for field in ["version", "title", "description"] {
        assert!(
            entry[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
}

fn resource(i: usize) -> Value {
    json!({
        "resource_type": "rds_instance", "identifier": format!("db-{i}"),
        "arn": format!("arn:aws:rds:us-west-2:111111111111:db:db-{i}"), "name": format!("db-{i}"),
        "account_id": "111111111111", "region": "us-west-2", "state": "available",
        "tags": [{"key": "env", "value": "staging"}], "metadata": {"multi_az": false}
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_the_field_named() {
    let repo = Repo::of_playbooks();
    let server = start(options(&repo.path())).await.unwrap();
    let mut wrong_type = json!({"prompt": "stop them", "identified_resources": [
        resource(0), resource(1), resource(2), resource(3)]});
    wrong_type["identified_resources"][3]["tags"] = json!("env=prod");
    let many: Vec<Value> = (0..201).map(resource).collect();
    let cases = [
        (
            json!({"prompt": "stop db-0", "dry_run": true}),
            400,
            "unknown_field",
            Some("dry_run"),
        ),
        (
            wrong_type,
            400,
            "invalid_type",
            Some("identified_resources[3].tags"),
        ),
        (
            json!({"prompt": "stop", "identified_resources": many}),
            400,
            "over_limit",
            Some("identified_resources"),
        ),
        (
            json!({"prompt": "stop ".repeat(500)}),
            400,
            "over_limit",
            Some("prompt"),
        ),
        (
            json!({"identified_resources": []}),
            400,
            "missing_field",
            Some("$"),
        ),
        (json!({"prompt": 3}), 400, "invalid_type", Some("prompt")),
    ];
    for (body, status, code, field) in cases {
        let answer = plan(&server, &body).await;
        assert_eq!(answer.status, status, "{}", answer.text);
        assert_eq!(answer.json["error"]["code"], code, "{}", answer.text);
        assert_eq!(
            answer.json["error"]["field"].as_str(),
            field,
            "{}",
            answer.text
        );
        assert!(!answer.json["error"]["message"].as_str().unwrap().is_empty());
    }
    let garbage = call(&server, "POST", "/v1/plan", Some(b"{\"prompt\":".to_vec())).await;
    assert_eq!(
        (garbage.status, &garbage.json["error"]["code"]),
        (400, &json!("invalid_json"))
    );
    let huge = format!(
        r#"{{"prompt":"stop","user_context":{{"note":"{}"}}}}"#,
        "x".repeat(300 * 1024)
    );
    let too_big = call(&server, "POST", "/v1/plan", Some(huge.into_bytes())).await;
    assert_eq!(too_big.status, 413, "{}", too_big.text);
    assert_eq!(too_big.json["error"]["code"], "body_too_large");
    server.stop().await;
}

// AWS's documented example credentials and a session token of the `IQoJ…` family.
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDdFsP7nnXFsOA1MxcXPcnK9DtqLsY0e1dmnIoO8ZSqgwIgNVFs1Yye5BG3jvH3Tq6lx1hrpkMSzpfWUJPKAqC6cDAqmgII";

#[tokio::test(flavor = "multi_thread")]
async fn credentials_anywhere_are_refused_and_never_logged_or_echoed() {
    let repo = Repo::of_playbooks();
    let server = start(options(&repo.path())).await.unwrap();
    let mut in_tag = seed_request();
    in_tag["identified_resources"][0]["tags"][1]["value"] = json!(SECRET);
    let mut as_key = seed_request();
    as_key["user_values"] = json!({ TOKEN: "1" });
    let mut in_prompt = seed_request();
    in_prompt["prompt"] = json!(format!("Stop pg-instance-main1 with key {KEY_ID}"));
    // Refused even where the request is otherwise wrong: the scan comes first.
    let unknown_field = json!({"prompt": "stop", "aws_secret_access_key": SECRET});
    let cases = [
        (in_tag, "identified_resources[0].tags[1].value"),
        (as_key, "user_values"),
        (in_prompt, "prompt"),
        (unknown_field, "aws_secret_access_key"),
    ];
    for (body, field) in cases {
        let answer = plan(&server, &body).await;
        assert_eq!(answer.status, 400, "{}", answer.text);
        assert_eq!(answer.json["error"]["code"], "secret_in_request");
        assert_eq!(answer.json["error"]["field"], field);
        for secret in [KEY_ID, SECRET, TOKEN, &SECRET[..12], &TOKEN[..24]] {
            assert!(
                !answer.text.contains(secret),
                "the answer echoes it: {}",
                answer.text
            );
        }
    }
    let in_url = call(&server, "GET", &format!("/v1/playbooks/{KEY_ID}"), None).await;
    assert_eq!(
        (in_url.status, &in_url.json["error"]["field"]),
        (400, &json!("id"))
    );
    assert!(!in_url.text.contains(KEY_ID), "{}", in_url.text);
    let logs = logs();
    assert!(
        logs.contains("secret_in_request"),
        "the refusals are logged (by code)"
    );
    for secret in [KEY_ID, SECRET, TOKEN, &SECRET[..12], &TOKEN[..24]] {
        assert!(!logs.contains(secret), "a log line holds a credential");
    }
    let metrics = call(&server, "GET", "/metrics", None).await.text;
    assert!(!metrics.contains(&SECRET[..12]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_as_prometheus_text_and_count_what_happened() {
    let repo = Repo::of_playbooks();
    let server = start(options(&repo.path())).await.unwrap();
    assert_eq!(plan(&server, &seed_request()).await.status, 200);
    assert_eq!(plan(&server, &json!({"prompt": 1})).await.status, 400);
    call(&server, "GET", "/v1/playbooks/rds.dance", None).await;
    let answer = call(&server, "GET", "/metrics", None).await;
    assert_eq!(answer.status, 200);
    let samples = parse_exposition(&answer.text).unwrap_or_else(|e| panic!("{e}\n{}", answer.text));
    let value = |name: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(
        value(
            "cloudops_http_requests_total",
            &[("route", "/v1/plan"), ("status", "200")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "cloudops_http_requests_total",
            &[("route", "/v1/plan"), ("status", "400")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "cloudops_http_requests_total",
            &[("route", "/v1/playbooks/{id}"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "cloudops_plans_total",
            &[("intent", "operation"), ("risk", "medium")]
        ),
        Some(1.0)
    );
    assert_eq!(value("cloudops_plan_latency_seconds_count", &[]), Some(1.0));
    assert_eq!(
        value("cloudops_library_info", &[("commit", repo.head().as_str())]),
        Some(1.0)
    );
    assert!(value("cloudops_library_playbooks", &[]).unwrap() >= 2.0);
    server.stop().await;
}

type Sample = (String, std::collections::BTreeMap<String, String>, f64);

/// Parses Prometheus/OpenMetrics text: `# HELP|TYPE|UNIT` lines, `# EOF` last, and samples
/// `name{k="v",...} value`; every sample belongs to a declared family.
pub fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let mut families = Vec::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    if lines.last() != Some(&"# EOF") {
        return Err("the text does not end with # EOF".into());
    }
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if !["HELP", "TYPE", "UNIT"].contains(&kind) || name.is_empty() {
                return Err(format!("bad comment line: {line}"));
            }
            families.push(name.to_owned());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
        let value: f64 = value.parse().map_err(|_| format!("bad value: {line}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (
                name,
                parse_labels(
                    rest.strip_suffix('}')
                        .ok_or(format!("bad labels: {line}"))?,
                )?,
            ),
            None => (series, Default::default()),
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(format!("bad metric name: {line}"));
        }
        if !families.iter().any(|f| name.starts_with(f.as_str())) {
            return Err(format!("a sample of no declared family: {line}"));
        }
        samples.push((name.to_owned(), labels, value));
    }
    Ok(samples)
}

fn parse_labels(mut text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut labels = std::collections::BTreeMap::new();
    while !text.is_empty() {
        let (key, rest) = text.split_once("=\"").ok_or(format!("bad label: {text}"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => value.push(chars.next().ok_or("bad escape")?.1),
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label: {text}")),
            }
        };
        labels.insert(key.to_owned(), value);
        text = rest[end + 1..].trim_start_matches(',');
    }
    Ok(labels)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_can_live_on_a_qdrant_server() {
    let test = "the_index_can_live_on_a_qdrant_server";
    let Some(url) = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty()) else {
        return skipped(
            test,
            "QDRANT_URL is not set (scripts/test starts a Qdrant server)",
        );
    };
    let repo = Repo::of_playbooks();
    let mut options = options(&repo.path());
    options.qdrant = Some(cloudops_estate::store::Location::Server {
        url,
        api_key: std::env::var("QDRANT_API_KEY").ok(),
    });
    let server = start(options)
        .await
        .expect("the server starts on the Qdrant server's index");
    let answer = plan(&server, &seed_request()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["steps"][0]["action"], "rds:StopDBInstance");
    assert_eq!(answer.json["playbook"]["commit"], repo.head().as_str());
    server.stop().await;
}
