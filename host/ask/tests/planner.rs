//! The planner client: the plan server over real HTTP plans what the in-process planner plans
//! from the same library, and a request the server refuses comes back as its refusal.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use cloudops_ask::planner::PlannerClient;
use cloudops_estate::embed::Embedder;
use cloudops_playbook::plan::{PlanRequest, ResourceContext};

fn library() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../playbooks")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, dest).unwrap();
        }
    }
}

/// A Git repository whose one commit is the repository's playbooks.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&library(), dir.path());
    for args in [
        &["init", "--quiet", "--initial-branch", "main"][..],
        &["add", "--all"],
        &["commit", "--quiet", "-m", "the playbooks"],
    ] {
        let out = Command::new("git")
            .current_dir(dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@cloudops.invalid"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

fn request(prompt: &str) -> PlanRequest {
    let db: ResourceContext = serde_json::from_value(serde_json::json!({
        "resource_type": "rds_instance",
        "identifier": "pg-instance-main1",
        "arn": "arn:aws:rds:us-west-2:111111111111:db:pg-instance-main1",
        "name": "pg-instance-main1",
        "account_id": "111111111111",
        "region": "us-west-2",
        "state": "available",
        "tags": [{"key": "env", "value": "production"}],
        "metadata": {"engine": "postgres", "multi_az": false, "read_replicas": []},
        "permissions": {"allowed": ["rds:StopDBInstance"], "denied": []}
    }))
    .unwrap();
    PlanRequest {
        prompt: prompt.into(),
        identified_resources: vec![db],
        ..PlanRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_and_the_in_process_planner_plan_alike() {
    let embedder = Arc::new(Embedder::from_env().expect("the model (scripts/setup installs it)"));
    let repo = repo();
    let options = cloudops_server::Options {
        playbooks: repo.path().to_string_lossy().into_owned(),
        reference: "main".into(),
        subdir: String::new(),
        data_dir: None,
        qdrant: None,
        redis_url: None,
        poll: None,
        limits: cloudops_server::Limits::default(),
    };
    let server =
        cloudops_server::Server::start(options, "127.0.0.1:0".parse().unwrap(), embedder.clone())
            .await
            .unwrap();
    let remote = PlannerClient::server(&format!("http://{}", server.addr)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let local = tokio::task::block_in_place(|| {
        PlannerClient::in_process(&library(), embedder, data.path())
    })
    .unwrap();

    let stop = request("stop pg-instance-main1");
    let (a, b) = (
        remote.plan(&stop).await.unwrap(),
        local.plan(&stop).await.unwrap(),
    );
    // Only the library's commit differs (a Git commit against a hash of the folder).
    assert_eq!(a.playbook.as_ref().unwrap().id, "rds.stop-instance");
    assert_eq!(
        a.playbook.as_ref().map(|p| &p.id),
        b.playbook.as_ref().map(|p| &p.id)
    );
    assert_eq!(a.steps, b.steps);
    assert_eq!(a.risk, b.risk);
    assert_eq!((a.runnable, b.runnable), (true, true));
    assert!(a.is_intact() && b.is_intact());

    // A request carrying a credential is refused by the server, and the error says so
    // without repeating it.
    let leaked = request("stop pg-instance-main1 AKIAIOSFODNN7EXAMPLE");
    let err = remote.plan(&leaked).await.unwrap_err().to_string();
    assert!(err.contains("refused the request"), "{err}");
    assert!(!err.contains("AKIAIOSFODNN7EXAMPLE"), "{err}");
    server.stop().await;
}
