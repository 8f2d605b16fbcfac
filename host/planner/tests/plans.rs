//! Plans from the default library (`playbooks/`), with the real model and an embedded index;
//! and the plan evaluation sets (`host/planner/eval/`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use cloudops_estate::embed::Embedder;
use cloudops_estate::store::Location;
use cloudops_planner::{eval, Planner};
use cloudops_playbook::plan::{IntentKind, PlanRequest, RiskLevel};
use cloudops_playbook::{Library, ResourceContext};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One planner for every test: embedding the library is the slow part.
fn planner() -> &'static Planner {
    static PLANNER: OnceLock<(Planner, tempfile::TempDir)> = OnceLock::new();
    &PLANNER
        .get_or_init(|| {
            let library =
                Library::load_dir(&root().join("playbooks")).expect("the default library checks");
            let embedder =
                Arc::new(Embedder::from_env().expect("the model (scripts/setup installs it)"));
            let dir = tempfile::tempdir().unwrap();
            let planner = Planner::build(
                library,
                "test".into(),
                embedder,
                &Location::Embedded(dir.path().join("index")),
                None,
            )
            .expect("the library indexes");
            (planner, dir)
        })
        .0
}

fn pg_instance_main1() -> ResourceContext {
    serde_json::from_value(serde_json::json!({
        "resource_type": "rds_instance",
        "identifier": "pg-instance-main1",
        "arn": "arn:aws:rds:us-west-2:111111111111:db:pg-instance-main1",
        "name": "pg-instance-main1",
        "account_id": "111111111111",
        "region": "us-west-2",
        "state": "available",
        "tags": [{"key": "env", "value": "production"}],
        "metadata": {"engine": "postgres", "multi_az": true, "read_replicas": []},
        "permissions": {"allowed": ["rds:StopDBInstance"], "denied": []}
    }))
    .unwrap()
}

fn request(prompt: &str, resources: Vec<ResourceContext>) -> PlanRequest {
    PlanRequest {
        prompt: prompt.into(),
        identified_resources: resources,
        ..PlanRequest::default()
    }
}

#[test]
fn the_seed_example_stops_pg_instance_main1() {
    let plan = planner()
        .plan(&request(
            "Stop pg-instance-main1",
            vec![pg_instance_main1()],
        ))
        .unwrap();
    assert_eq!(
        plan.playbook.as_ref().map(|p| p.id.as_str()),
        Some("rds.stop-instance")
    );
    assert_eq!(plan.playbook.as_ref().unwrap().commit, "test");
    assert_eq!(plan.steps.len(), 1);
    let step = &plan.steps[0];
    assert_eq!(step.action, "rds:StopDBInstance");
    assert_eq!(step.params["DBInstanceIdentifier"], "pg-instance-main1");
    assert_eq!(step.target.region, "us-west-2");
    assert_eq!(plan.risk.level, RiskLevel::Medium);
    assert!(plan.approval_required && plan.runnable);
    for fact in ["production", "Multi-AZ", "approval"] {
        assert!(plan.explain.contains(fact), "{fact}: {}", plan.explain);
    }
    assert!(plan.is_intact());
}

#[test]
fn the_verb_decides_between_close_playbooks() {
    let mut stopped = pg_instance_main1();
    stopped.state = Some("stopped".into());
    let plan = planner()
        .plan(&request("start pg-instance-main1 again", vec![stopped]))
        .unwrap();
    assert_eq!(
        plan.playbook.map(|p| p.id),
        Some("rds.start-instance".into())
    );
}

#[test]
fn questions_and_searches_get_no_plan() {
    for (prompt, kind) in [
        (
            "what is the state of pg-instance-main1?",
            IntentKind::Question,
        ),
        ("list every production database", IntentKind::Search),
    ] {
        let plan = planner()
            .plan(&request(prompt, vec![pg_instance_main1()]))
            .unwrap();
        assert_eq!(plan.intent.kind, kind, "{prompt}");
        assert!(
            plan.steps.is_empty() && !plan.runnable && plan.playbook.is_none(),
            "{prompt}"
        );
        assert!(plan.explain.contains("nothing to plan"), "{}", plan.explain);
    }
}

#[test]
fn the_same_request_gives_the_same_plan_id() {
    let a = planner()
        .plan(&request(
            "Stop pg-instance-main1",
            vec![pg_instance_main1()],
        ))
        .unwrap();
    let b = planner()
        .plan(&request(
            "Stop pg-instance-main1",
            vec![pg_instance_main1()],
        ))
        .unwrap();
    assert_eq!(a.plan_id, b.plan_id);
}

/// The prompt cache keys on `prompt_key`, which must not change what the model sees.
#[test]
fn the_prompt_key_embeds_as_the_text_does() {
    let embedder = Embedder::from_env().expect("the model (scripts/setup installs it)");
    for text in ["Stop  the RDS\tinstance ", "please REBOOT ec2 instance now"] {
        let key = cloudops_planner::prompt_key(text);
        assert_ne!(key, text);
        let (a, b) = (
            embedder.embed_query(text).unwrap(),
            embedder.embed_query(&key).unwrap(),
        );
        let cosine: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!(cosine > 0.9999, "{text:?} and {key:?}: cosine {cosine}");
    }
}

/// Straight to stdout: libtest swallows a passing test's `println!`, and scripts/test counts
/// `SKIPPED:` lines and shows the figures.
fn say(line: String) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn evaluate(set: &str) -> Option<eval::Report> {
    let dir = root().join("host/planner/eval");
    let cases = dir.join(set);
    if !cases.exists() {
        say(format!(
            "SKIPPED: plan evaluation {set}: {} is not written yet",
            cases.display()
        ));
        return None;
    }
    let (fixtures, cases) = eval::load(&dir.join("resources.json"), &cases).unwrap();
    let report = eval::run(planner(), &fixtures, &cases).unwrap();
    say(format!(
        "plan evaluation {set}: {} cases; intent {:.3}; top-1 playbook {:.3} ({}/{}); params exact given the right playbook {:.3} ({}/{}); clarify/runnable {:.3} ({}/{})",
        report.cases,
        eval::Report::ratio(report.intent_right, report.cases),
        eval::Report::ratio(report.top1_right, report.operations),
        report.top1_right,
        report.operations,
        eval::Report::ratio(report.params_right, report.with_params),
        report.params_right,
        report.with_params,
        eval::Report::ratio(report.outcome_right, report.with_outcome),
        report.outcome_right,
        report.with_outcome,
    ));
    for failure in &report.failures {
        say(format!("  {failure}"));
    }
    Some(report)
}

/// The bar on the tuning set: top-1 playbook ≥ 0.95, parameters exact on every case.
#[test]
fn eval_dev_set() {
    let Some(r) = evaluate("dev.jsonl") else {
        return;
    };
    assert!(r.cases >= 100, "{} cases", r.cases);
    assert!(
        eval::Report::ratio(r.top1_right, r.operations) >= 0.95,
        "top-1 below 0.95"
    );
    assert_eq!(
        r.params_right, r.with_params,
        "parameters must be exact on every case"
    );
    assert!(
        eval::Report::ratio(r.intent_right, r.cases) >= 0.95,
        "intent below 0.95"
    );
}

/// The held-out set is reported (`--nocapture`), never tuned on; a collapse still fails.
#[test]
fn eval_holdout_set() {
    let Some(r) = evaluate("holdout.jsonl") else {
        return;
    };
    assert!(
        eval::Report::ratio(r.top1_right, r.operations) >= 0.85,
        "held-out top-1 collapsed"
    );
}

/// The index on a Qdrant server (`QDRANT_URL`; scripts/test starts one) plans as the embedded
/// one does; a rebuild for a new commit reuses the index and retires commits before the last.
#[test]
fn a_qdrant_server_index_plans_the_same_and_rebuilds_per_commit() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        say("SKIPPED: plans::a_qdrant_server_index_plans_the_same_and_rebuilds_per_commit: QDRANT_URL is not set".into());
        return;
    };
    let location = Location::Server {
        url,
        api_key: std::env::var("QDRANT_API_KEY").ok(),
    };
    let library = || Library::load_dir(&root().join("playbooks")).unwrap();
    let embedder = Arc::new(Embedder::from_env().unwrap());
    let request = request("Stop pg-instance-main1", vec![pg_instance_main1()]);

    let first = Planner::build(library(), "c1".into(), embedder.clone(), &location, None).unwrap();
    let plan = first.plan(&request).unwrap();
    let embedded = planner().plan(&request).unwrap();
    assert_eq!(plan.steps, embedded.steps);
    assert_eq!(plan.playbook.unwrap().commit, "c1");

    let second = Planner::build(
        library(),
        "c2".into(),
        embedder.clone(),
        &location,
        Some(&first),
    )
    .unwrap();
    assert_eq!(
        second.plan(&request).unwrap().playbook.unwrap().commit,
        "c2"
    );
    assert_eq!(
        first.plan(&request).unwrap().playbook.unwrap().commit,
        "c1",
        "the previous commit serves until swapped"
    );
    let third = Planner::build(library(), "c3".into(), embedder, &location, Some(&second)).unwrap();
    assert_eq!(third.plan(&request).unwrap().playbook.unwrap().commit, "c3");
    // c1's points are gone once c3 replaced c2: its planner finds no similar text any more
    // (word evidence alone still ranks its library).
    let retired = first.ranking(&request).unwrap();
    assert!(
        retired.iter().all(|r| r.similarity == 0.0),
        "c1's points are still in the index: {:?}",
        retired
            .iter()
            .map(|r| (r.playbook.id.as_str(), r.similarity))
            .collect::<Vec<_>>()
    );
}
