//! Estate sync against the emulator: three accounts × two regions seeded from an estate file,
//! synced through all six first-party plugins with IAM, embeddings and the sealed store.
//! Checks exact counts, a failing service, stale deletion, a no-change re-sync and IAM
//! decisions per resource, on the embedded store and again on the Qdrant server at
//! `QDRANT_URL` (scripts/test starts one; without it those tests print a `SKIPPED:` line),
//! and that both backends answer the same searches with the same results.

use std::collections::BTreeMap;
use std::sync::Arc;

use cloudops_demo::{
    generate, seed_estate, AccountSpec, Emulator, EstateFile, EstateSpec, SeedReport,
};
use cloudops_host::aws::Endpoints;
use cloudops_host::estate::{Estate, Record};
use cloudops_host::plugin::{Limits, Plugin};
use cloudops_host::scan::sync::{self, SyncAccount, SyncOptions, SyncReport};
use cloudops_host::search::{self, AccountName, SearchHit, SearchRequest};
use cloudops_host::store::seal::Sealer;
use cloudops_host::store::{self, EstateStore, Filter, Location};
use cloudops_tests::{
    embedder, load_plugin, qdrant_url_or_skip, start_emulator, ServerCollections,
};

const PLUGINS: [&str; 6] = ["ec2", "rds", "s3", "lambda", "vpc", "elb"];

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
    run_with(accounts, estate, SyncOptions::default()).await
}

async fn run_with(accounts: Vec<SyncAccount>, estate: &Estate, options: SyncOptions) -> SyncReport {
    sync::sync(
        accounts,
        plugins(),
        estate.clone(),
        options,
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

fn embedded_store(dir: &tempfile::TempDir) -> Arc<dyn EstateStore> {
    Arc::from(store::open(&Location::Embedded(dir.path().join("store"))).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_accounts_sync_exactly_then_degrade_forget_and_skip() {
    let dir = tempfile::tempdir().unwrap();
    sync_exactly_then_degrade_forget_and_skip(embedded_store(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_accounts_sync_exactly_then_degrade_forget_and_skip_on_the_qdrant_server() {
    let test =
        "sync::three_accounts_sync_exactly_then_degrade_forget_and_skip_on_the_qdrant_server";
    let Some(url) = qdrant_url_or_skip(test) else {
        return;
    };
    let server = ServerCollections::new(&url, "cloudops_test_sync_e2e_");
    sync_exactly_then_degrade_forget_and_skip(Arc::from(server.open())).await;
}

async fn sync_exactly_then_degrade_forget_and_skip(store: Arc<dyn EstateStore>) {
    let emulator = start_emulator().await;
    let file = small_estate();
    let seeded = seed_estate(&emulator, &file, |_| {}).await.unwrap();
    let estate = Estate::new(store, embedder(), Arc::new(Sealer::generate()));

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

    // 4. A bucket deleted in AWS disappears at the next complete sync of its scope (one
    //    that keeps at least half of its records: emptier scopes are held back, see 6).
    let in_scope = |r: &Record| {
        stored
            .iter()
            .filter(|o| {
                o.resource.account_id == r.resource.account_id
                    && o.resource.region == r.resource.region
                    && o.service == r.service
            })
            .count()
    };
    let bucket = stored
        .iter()
        .find(|r| r.resource.resource_type == "s3_bucket" && in_scope(r) >= 2)
        .expect("a region with two buckets or more");
    let owner = seeded
        .accounts
        .iter()
        .find(|a| a.id == bucket.resource.account_id)
        .unwrap();
    let staging = seeded
        .accounts
        .iter()
        .find(|a| a.id == "222222222222")
        .unwrap();
    delete_bucket(
        &emulator,
        owner,
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

    // 6. Every bucket of one account and region deleted (as an emptied or wrong account
    //    would look): the removal is held back and reported until it is allowed.
    let buckets: Vec<Record> = estate
        .list(
            &Filter::all()
                .eq("account_id", "222222222222")
                .eq("service", "s3"),
        )
        .unwrap();
    let region = buckets[0].resource.region.clone();
    let emptied: Vec<&Record> = buckets
        .iter()
        .filter(|r| r.resource.region == region && r.resource.resource_type == "s3_bucket")
        .collect();
    assert!(!emptied.is_empty());
    for bucket in &emptied {
        delete_bucket(&emulator, staging, &region, &bucket.resource.identifier).await;
    }
    let held = run(accounts(&emulator, &file, &seeded), &estate).await;
    let scope = held
        .scopes
        .iter()
        .find(|s| s.account_id == "222222222222" && s.region == region && s.service == "s3")
        .unwrap();
    assert!(scope.complete, "the scan itself saw everything: {scope:?}");
    assert_eq!((scope.removed, scope.held_back), (0, emptied.len() as u64));
    assert!(
        scope
            .errors
            .iter()
            .any(|e| e.contains("--allow-mass-delete")),
        "says what to do: {:?}",
        scope.errors
    );
    assert!(!held.is_clean() && !held.is_total_failure());
    assert_eq!(held.held.len(), 1);
    assert_eq!(held.held[0].scope(), format!("222222222222/{region}/s3"));
    let ids: Vec<_> = emptied.iter().map(|r| r.id()).collect();
    assert_eq!(estate.get(&ids).unwrap().len(), emptied.len(), "kept");
    let others_clean = held
        .scopes
        .iter()
        .filter(|s| s.service != "s3" || s.account_id != "222222222222" || s.region != region)
        .all(|s| s.errors.is_empty());
    assert!(others_clean, "only that scope is held back");

    let allowed = run_with(
        accounts(&emulator, &file, &seeded),
        &estate,
        SyncOptions {
            allow_mass_delete: true,
            ..SyncOptions::default()
        },
    )
    .await;
    assert!(allowed.is_clean(), "{:#?}", allowed.held);
    assert_eq!(
        allowed.scopes.iter().map(|s| s.removed).sum::<u64>(),
        emptied.len() as u64
    );
    assert!(estate.get(&ids).unwrap().is_empty());
}

/// The same estate synced into the embedded store and into the server answers every search
/// alike: the same ids in the same order, scores equal but for float noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_qdrant_server_answers_searches_as_the_embedded_store_does() {
    let test = "sync::the_qdrant_server_answers_searches_as_the_embedded_store_does";
    let Some(url) = qdrant_url_or_skip(test) else {
        return;
    };
    let server = ServerCollections::new(&url, "cloudops_test_sync_compare_");
    let emulator = start_emulator().await;
    let file = small_estate();
    let seeded = seed_estate(&emulator, &file, |_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let embedded = Estate::new(
        embedded_store(&dir),
        embedder(),
        Arc::new(Sealer::generate()),
    );
    let on_server = Estate::new(
        Arc::from(server.open()),
        embedder(),
        Arc::new(Sealer::generate()),
    );
    for estate in [&embedded, &on_server] {
        let report = run(accounts(&emulator, &file, &seeded), estate).await;
        assert!(report.is_clean(), "{:#?}", report.scopes);
    }

    let ids = |estate: &Estate| {
        let mut ids: Vec<_> = estate
            .list(&Filter::all())
            .unwrap()
            .iter()
            .map(Record::id)
            .collect();
        ids.sort();
        ids
    };
    let stored = ids(&embedded);
    assert_eq!(
        tally(&embedded.list(&Filter::all()).unwrap()),
        file.expected_counts()
    );
    assert_eq!(ids(&on_server), stored, "the same resources stored");

    let names: Vec<AccountName> = seeded
        .accounts
        .iter()
        .map(|a| AccountName {
            id: a.id.clone(),
            name: a.name.clone(),
        })
        .collect();
    // Meaning, names (exact, partial, mistyped), tags, and the query words that become filters.
    let records = embedded.list(&Filter::all()).unwrap();
    let mut queries: Vec<String> = [
        "production database",
        "web servers",
        "serverless functions",
        "load balancer for the api",
        "buckets in staging account",
        "rds in us-east-1",
        "in development account",
        "env=production",
        "ec2",
    ]
    .map(str::to_owned)
    .to_vec();
    for r in records.iter().step_by(records.len() / 8 + 1) {
        let name = &r.resource.name;
        queries.push(name.clone());
        queries.push(name.replace('-', " "));
        queries.push(name.chars().take(name.len() * 2 / 3).collect());
    }
    let mut compared = 0;
    for query in &queries {
        let request = SearchRequest {
            query: query.clone(),
            limit: FETCHED,
            ..SearchRequest::default()
        };
        let want = search::search(&embedded, &names, &request).unwrap().hits;
        let got = search::search(&on_server, &names, &request).unwrap().hits;
        compared += assert_same_ranking(query, &want, &got);
    }
    println!(
        "{compared} results of {} queries compared by id",
        queries.len()
    );
    assert!(
        compared > COMPARED * queries.len() / 2,
        "only {compared} results compared by id"
    );
}

/// Scores closer than this are the same score computed twice (the backends sum in different
/// orders).
const SCORE_NOISE: f32 = 1e-4;

/// The top results compared per query.
const COMPARED: usize = 10;

/// Results asked for: more than compared, to see whether a tie goes on past the top ones.
const FETCHED: usize = 2 * COMPARED;

/// `got` ranks the top [`COMPARED`] results as `want` does; returns how many of them were
/// compared by id (the rest by score only).
/// Results whose scores tie (within noise) have no order of their own (the ranking breaks
/// ties by name, and equal names by hash-map order), so within a tie any order goes; a tie
/// that goes on past the fetched results may keep different members.
fn assert_same_ranking(query: &str, want: &[SearchHit], got: &[SearchHit]) -> usize {
    let show = |hits: &[SearchHit]| {
        hits.iter()
            .map(|h| format!("{} {:.5} {}", h.id, h.score, h.record.resource.name))
            .collect::<Vec<_>>()
    };
    let context = || {
        format!(
            "{query:?}\nembedded: {:#?}\nserver: {:#?}",
            show(want),
            show(got)
        )
    };
    assert_eq!(want.len(), got.len(), "{}", context());
    // Scores must agree over the compared top; below it the server's HNSW index is
    // approximate (the embedded store searches a small estate exactly), and one near-tie at
    // rank 19 of 20 was seen to differ.
    for (w, g) in want.iter().zip(got).take(COMPARED) {
        assert!((w.score - g.score).abs() < SCORE_NOISE, "{}", context());
    }
    let complete = want.len() < FETCHED;
    let mut by_id = 0;
    let mut start = 0;
    while start < want.len().min(COMPARED) {
        let end = (start + 1..want.len())
            .find(|&i| (want[i].score - want[start].score).abs() >= SCORE_NOISE)
            .unwrap_or(want.len());
        if end < want.len() || complete {
            let mut a: Vec<_> = want[start..end].iter().map(|h| h.id).collect();
            let mut b: Vec<_> = got[start..end].iter().map(|h| h.id).collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{}", context());
            by_id += end.min(COMPARED) - start;
        }
        start = end;
    }
    by_id
}

async fn delete_bucket(
    emulator: &Emulator,
    account: &cloudops_demo::SeededAccount,
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
