//! Estate sync against the emulator: three accounts × two regions seeded from an estate file,
//! synced through all six first-party plugins with IAM, embeddings and the sealed embedded
//! store. Checks exact counts, a failing service, stale deletion, a no-change re-sync and
//! IAM decisions per resource.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use cloudops_host::aws::Endpoints;
use cloudops_host::demo::{
    generate, seed_estate, AccountSpec, Emulator, EstateFile, EstateSpec, SeedReport,
};
use cloudops_host::embed::Embedder;
use cloudops_host::estate::{Estate, Record};
use cloudops_host::plugin::{Limits, Plugin};
use cloudops_host::scan::sync::{self, SyncAccount, SyncOptions, SyncReport};
use cloudops_host::store::seal::Sealer;
use cloudops_host::store::{self, Filter, Location};
use cloudops_tests::{load_plugin, start_emulator};

const PLUGINS: [&str; 6] = ["ec2", "rds", "s3", "lambda", "vpc", "elb"];

fn embedder() -> Arc<Embedder> {
    static MODEL: OnceLock<Arc<Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            Arc::new(Embedder::from_env().unwrap_or_else(|e| {
                panic!("the embedding model is needed: run scripts/setup and source scripts/env.sh ({e})")
            }))
        })
        .clone()
}

/// Three accounts (production, staging, development) × two regions, a little of everything.
fn small_estate() -> EstateFile {
    let regions = vec!["us-west-2".to_owned(), "us-east-1".to_owned()];
    let account = |id: &str, env: &str| AccountSpec {
        id: id.into(),
        name: env.into(),
        env: env.into(),
        regions: regions.clone(),
    };
    generate(&EstateSpec {
        seed: 7,
        accounts: vec![
            account("111111111111", "production"),
            account("222222222222", "staging"),
            account("333333333333", "development"),
        ],
        ec2_instances: 24,
        rds_instances: 8,
        rds_clusters: 1,
        s3_buckets: 9,
        lambda_functions: 6,
        lambda_layers: 2,
        lambda_aliases: 2,
        load_balancers: 2,
        vpcs: 6,
    })
}

fn plugins() -> Vec<Plugin> {
    PLUGINS
        .iter()
        .map(|name| load_plugin(name, Limits::default()).unwrap())
        .collect()
}

fn accounts(emulator: &Emulator, file: &EstateFile, seeded: &SeedReport) -> Vec<SyncAccount> {
    seeded
        .accounts
        .iter()
        .map(|a| SyncAccount {
            name: a.name.clone(),
            client: a.client(emulator),
            regions: file.account(&a.id).unwrap().regions.clone(),
        })
        .collect()
}

async fn run(accounts: Vec<SyncAccount>, estate: &Estate) -> SyncReport {
    sync::sync(
        accounts,
        plugins(),
        estate.clone(),
        SyncOptions::default(),
        Arc::new(|_| {}),
    )
    .await
}

fn tally(records: &[Record]) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for r in records {
        let r = &r.resource;
        *counts
            .entry((
                r.account_id.clone(),
                r.region.clone(),
                r.resource_type.clone(),
            ))
            .or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_accounts_sync_exactly_then_degrade_forget_and_skip() {
    let emulator = start_emulator().await;
    let file = small_estate();
    let seeded = seed_estate(&emulator, &file, |_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&Location::Embedded(dir.path().join("store"))).unwrap();
    let estate = Estate::new(Arc::from(store), embedder(), Arc::new(Sealer::generate()));

    // 1. A full sync stores exactly what the estate file implies.
    let report = run(accounts(&emulator, &file, &seeded), &estate).await;
    assert!(
        report.is_clean(),
        "{:#?}",
        report
            .scopes
            .iter()
            .filter(|s| !s.errors.is_empty())
            .collect::<Vec<_>>()
    );
    assert_eq!(report.scopes.len(), 3 * 2 * PLUGINS.len());
    let stored = estate.list(&Filter::all()).unwrap();
    assert_eq!(
        tally(&stored),
        file.expected_counts(),
        "stored counts per (account, region, type)"
    );
    assert!(
        report.scopes.iter().all(|s| s.iam_known == s.found),
        "IAM answered for every resource"
    );

    // 2. IAM decisions per resource match each account's policy.
    let instance_in = |account: &str| {
        stored
            .iter()
            .find(|r| {
                r.resource.account_id == account && r.resource.resource_type == "ec2_instance"
            })
            .unwrap()
    };
    let prod = instance_in("111111111111").permissions.clone().unwrap();
    assert!(prod.allows("ec2:StopInstances"), "{prod:?}");
    let terminate = prod
        .denied
        .iter()
        .find(|d| d.action == "ec2:TerminateInstances")
        .unwrap();
    assert!(terminate.explicit, "production denies terminate explicitly");
    assert!(!instance_in("111111111111").constraints.can_delete);
    let dev = instance_in("333333333333").permissions.clone().unwrap();
    assert!(
        dev.allows("ec2:TerminateInstances"),
        "development may terminate: {dev:?}"
    );

    // 3. Nothing changed: nothing is embedded, added, updated or removed.
    let again = run(accounts(&emulator, &file, &seeded), &estate).await;
    assert!(again.is_clean());
    let sum = |f: fn(&cloudops_host::scan::status::ScopeStatus) -> usize| {
        again.scopes.iter().map(f).sum::<usize>()
    };
    assert_eq!(
        (sum(|s| s.embedded), sum(|s| s.added), sum(|s| s.updated)),
        (0, 0, 0)
    );
    assert_eq!(again.scopes.iter().map(|s| s.removed).sum::<u64>(), 0);
    assert_eq!(sum(|s| s.unchanged), stored.len());

    // 4. A bucket deleted in AWS disappears at the next complete sync of its scope.
    let bucket = stored
        .iter()
        .find(|r| {
            r.resource.resource_type == "s3_bucket" && r.resource.account_id == "222222222222"
        })
        .unwrap();
    let staging = seeded
        .accounts
        .iter()
        .find(|a| a.id == "222222222222")
        .unwrap();
    delete_bucket(
        &emulator,
        staging,
        &bucket.resource.region,
        &bucket.resource.identifier,
    )
    .await;
    let after = run(accounts(&emulator, &file, &seeded), &estate).await;
    let removed: u64 = after.scopes.iter().map(|s| s.removed).sum();
    assert_eq!(removed, 1);
    assert!(estate.get(&[bucket.id()]).unwrap().is_empty());

    // 5. One service failing (its endpoint is a closed port) leaves the others complete and
    //    removes nothing of its own.
    let mut broken = accounts(&emulator, &file, &seeded);
    for account in &mut broken {
        account.client = account.client.with_endpoints(
            Endpoints::default()
                .with_global(emulator.url())
                .with_service("lambda", "http://127.0.0.1:9"),
        );
    }
    let before = estate.list(&Filter::all()).unwrap().len();
    let degraded = run(broken, &estate).await;
    for scope in &degraded.scopes {
        if scope.service == "lambda" {
            assert!(!scope.complete && !scope.errors.is_empty(), "{scope:?}");
            assert_eq!(scope.removed, 0);
        } else {
            assert!(scope.complete && scope.errors.is_empty(), "{scope:?}");
        }
    }
    assert_eq!(
        estate.list(&Filter::all()).unwrap().len(),
        before,
        "a failed scan forgets nothing"
    );
}

async fn delete_bucket(
    emulator: &Emulator,
    account: &cloudops_host::demo::SeededAccount,
    region: &str,
    bucket: &str,
) {
    let client = account.client(emulator);
    let request = cloudops_host::aws::AwsRequest {
        service: "s3".into(),
        method: "DELETE".into(),
        path: format!("/{bucket}"),
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let response = client.send(&request, region, 1 << 20).await.unwrap();
    assert!(
        response.is_success(),
        "DeleteBucket: {}",
        String::from_utf8_lossy(&response.body)
    );
}
