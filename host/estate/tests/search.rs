//! The estate and hybrid search end to end: real model, real embedded Qdrant, real sealing.
//! Needs the model that scripts/setup installs (CLOUDOPS_MODEL_DIR, ORT_DYLIB_PATH).

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use cloudops_core::resource::{Constraints, Resource, Tag};
use cloudops_core::resource::{Denial, Permissions};
use cloudops_estate::embed::Embedder;
use cloudops_estate::estate::{Estate, Record};
use cloudops_estate::search::{self, AccountName, SearchRequest};
use cloudops_estate::store::seal::Sealer;
use cloudops_estate::store::{self, Collection, Filter, Location};
use serde_json::json;

const PROD: &str = "111111111111";
const STAGING: &str = "222222222222";

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

fn accounts() -> Vec<AccountName> {
    vec![
        AccountName {
            id: PROD.into(),
            name: "production".into(),
        },
        AccountName {
            id: STAGING.into(),
            name: "staging".into(),
        },
    ]
}

fn resource(
    kind: &str,
    account: &str,
    region: &str,
    id: &str,
    name: &str,
    tags: &[(&str, &str)],
    meta: serde_json::Value,
) -> Record {
    let service = kind.split('_').next().unwrap();
    Record {
        resource: Resource {
            resource_type: kind.into(),
            identifier: id.into(),
            arn: format!("arn:aws:{service}:{region}:{account}:{kind}/{id}"),
            name: name.into(),
            account_id: account.into(),
            region: region.into(),
            state: Some("available".into()),
            tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            relations: Vec::new(),
            metadata: meta.as_object().cloned().unwrap_or_default(),
        },
        service: service.into(),
        account_name: if account == PROD {
            "production"
        } else {
            "staging"
        }
        .into(),
        permissions: Some(Permissions {
            allowed: vec!["rds:StopDBInstance".into()],
            denied: vec![Denial {
                action: "rds:DeleteDBInstance".into(),
                explicit: true,
            }],
        }),
        constraints: Constraints {
            can_stop: true,
            ..Constraints::default()
        },
        principal: Some(format!("arn:aws:iam::{account}:role/Developer")),
    }
}

/// A small estate with the seed's examples and look-alikes around them.
fn records() -> Vec<Record> {
    let pg = |acct, region, id: &str, env, app| {
        resource(
            "rds_instance",
            acct,
            region,
            id,
            id,
            &[("env", env), ("app", app)],
            json!({"engine": "postgres", "engine_version": "14.7", "multi_az": true}),
        )
    };
    let ec2 = |acct, region, id: &str, name: &str, env, app| {
        resource(
            "ec2_instance",
            acct,
            region,
            id,
            name,
            &[("Name", name), ("env", env), ("app", app)],
            json!({"instance_type": "t3.medium"}),
        )
    };
    let bucket = |acct, region, id: &str, env| {
        resource(
            "s3_bucket",
            acct,
            region,
            id,
            id,
            &[("env", env)],
            json!({}),
        )
    };
    vec![
        pg(PROD, "us-west-2", "pg-instance-main1", "production", "main"),
        pg(
            PROD,
            "us-west-2",
            "pg-instance-main2",
            "production",
            "billing",
        ),
        pg(
            STAGING,
            "us-west-2",
            "pg-instance-main1-staging",
            "staging",
            "main",
        ),
        pg(PROD, "us-east-1", "mysql-orders", "production", "orders"),
        resource(
            "rds_instance",
            STAGING,
            "us-east-1",
            "mysql-legacy",
            "mysql-legacy",
            &[("env", "staging")],
            json!({"engine": "mysql"}),
        ),
        ec2(
            PROD,
            "us-west-2",
            "i-0a1",
            "web-server-1",
            "production",
            "api",
        ),
        ec2(
            PROD,
            "us-west-2",
            "i-0a2",
            "web-server-2",
            "production",
            "api",
        ),
        ec2(
            STAGING,
            "us-west-2",
            "i-0b1",
            "web-server-1",
            "staging",
            "api",
        ),
        ec2(
            PROD,
            "us-east-1",
            "i-0c1",
            "etl-worker-1",
            "production",
            "etl",
        ),
        ec2(STAGING, "us-east-1", "i-0c2", "bastion", "staging", "ops"),
        bucket(PROD, "us-west-2", "acme-prod-logs", "production"),
        bucket(PROD, "us-east-1", "acme-prod-backups", "production"),
        bucket(STAGING, "us-west-2", "acme-staging-assets", "staging"),
        resource(
            "lambda_function",
            PROD,
            "us-west-2",
            "resize-images",
            "resize-images",
            &[("env", "production")],
            json!({"runtime": "python3.12"}),
        ),
        resource(
            "lambda_function",
            STAGING,
            "us-east-1",
            "nightly-report",
            "nightly-report",
            &[("env", "staging")],
            json!({"runtime": "nodejs20.x"}),
        ),
    ]
}

fn estate(dir: &std::path::Path) -> Estate {
    let store = store::open(&Location::Embedded(dir.join("store"))).unwrap();
    Estate::new(Arc::from(store), embedder(), Arc::new(Sealer::generate()))
}

fn top(estate: &Estate, query: &str) -> Vec<String> {
    search::search(
        estate,
        &accounts(),
        &SearchRequest {
            query: query.into(),
            limit: 5,
            ..Default::default()
        },
    )
    .unwrap()
    .hits
    .into_iter()
    .map(|h| {
        format!(
            "{}@{}",
            h.record.resource.identifier, h.record.resource.account_id
        )
    })
    .collect()
}

#[test]
fn the_seed_examples_find_pg_instance_main1() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(dir.path());
    estate.put(records()).unwrap();
    let want = format!("pg-instance-main1@{PROD}");
    // This estate has three production databases; "production database" must rank them
    // (and only them) first, the seed's pg-instance-main1 among them.
    let got = top(&estate, "production database");
    let production_dbs = [
        format!("pg-instance-main1@{PROD}"),
        format!("pg-instance-main2@{PROD}"),
        format!("mysql-orders@{PROD}"),
    ];
    assert!(
        got[..3].iter().all(|g| production_dbs.contains(g)),
        "{got:?}"
    );
    for query in [
        "pg-main1",
        "env=prod AND app=main",
        "stop the production postgres",
    ] {
        let got = top(&estate, query);
        assert_eq!(got.first(), Some(&want), "{query:?} gave {got:?}");
    }
}

#[test]
fn filters_narrow_by_account_region_service_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(dir.path());
    estate.put(records()).unwrap();
    let all = |query: &str| {
        search::search(
            &estate,
            &accounts(),
            &SearchRequest {
                query: query.into(),
                limit: 50,
                ..Default::default()
            },
        )
        .unwrap()
        .hits
    };
    let hits = all("web server in staging account");
    assert!(!hits.is_empty());
    assert!(
        hits.iter().all(|h| h.record.resource.account_id == STAGING),
        "account filter"
    );
    assert_eq!(hits[0].record.resource.name, "web-server-1");
    let hits = all("rds in us-east-1");
    let mut ids: Vec<_> = hits
        .iter()
        .map(|h| h.record.resource.identifier.as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["mysql-legacy", "mysql-orders"]);
    let hits = all("buckets");
    assert_eq!(hits.len(), 3);
    assert!(hits
        .iter()
        .all(|h| h.record.resource.resource_type == "s3_bucket"));
    let hits = search::search(
        &estate,
        &accounts(),
        &SearchRequest {
            query: "web".into(),
            regions: vec!["us-west-2".into()],
            types: vec!["ec2_instance".into()],
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap()
    .hits;
    assert_eq!(hits.len(), 3);
}

#[test]
fn hits_carry_unsealed_permissions_and_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(dir.path());
    let original = records();
    estate.put(original.clone()).unwrap();
    let hit = search::search(
        &estate,
        &accounts(),
        &SearchRequest {
            query: "pg-instance-main1".into(),
            limit: 1,
            ..Default::default()
        },
    )
    .unwrap()
    .hits
    .remove(0);
    assert_eq!(hit.record, original[0]);
}

#[test]
fn sensitive_fields_are_sealed_and_tampering_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(dir.path());
    let records = records();
    estate.put(records.clone()).unwrap();
    let id = records[0].id();
    let stored = estate
        .store()
        .retrieve(Collection::Estate, &[id], false)
        .unwrap()
        .remove(0);
    let text = serde_json::to_string(&stored.payload).unwrap();
    assert!(
        !text.contains("arn:aws"),
        "an ARN is stored in the clear: {text}"
    );
    assert!(
        !text.contains("DeleteDBInstance"),
        "IAM data is stored in the clear"
    );
    assert!(!text.contains("14.7"), "metadata is stored in the clear");
    assert!(
        text.contains("pg-instance-main1") && text.contains("env=production"),
        "plain fields stay filterable"
    );

    // Flip one character of the sealed blob: reading must fail, not return garbage.
    let mut payload = stored.payload.clone();
    let sealed = payload["sealed"].as_str().unwrap().to_owned();
    let mut bytes = sealed.into_bytes();
    let at = bytes.len() - 5;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    payload.insert("sealed".into(), json!(String::from_utf8(bytes).unwrap()));
    let err = estate.decode(id, &payload).unwrap_err().to_string();
    assert!(err.contains(&id.to_string()), "{err}");

    // The same blob under another point id fails too (the id is the associated data).
    let other = records[1].id();
    assert!(estate.decode(other, &stored.payload).is_err());
}

#[test]
fn another_key_cannot_read_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn store::EstateStore> =
        Arc::from(store::open(&Location::Embedded(dir.path().join("store"))).unwrap());
    let ours = Estate::new(store.clone(), embedder(), Arc::new(Sealer::generate()));
    ours.put(records()).unwrap();
    let theirs = Estate::new(store, embedder(), Arc::new(Sealer::generate()));
    let err = theirs.get(&[records()[0].id()]).unwrap_err().to_string();
    assert!(
        err.contains("key"),
        "the error should say the key differs: {err}"
    );
}

#[test]
fn unchanged_records_are_neither_embedded_nor_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(dir.path());
    let first = estate.put(records()).unwrap();
    assert_eq!(
        (first.added, first.updated, first.unchanged),
        (records().len(), 0, 0)
    );
    assert!(first.embedded > 0);
    let again = estate.put(records()).unwrap();
    assert_eq!(
        (again.added, again.updated, again.unchanged, again.embedded),
        (0, 0, records().len(), 0)
    );

    // A state change rewrites the record but reuses its vector (same text).
    let mut changed = records();
    changed[0].resource.state = Some("stopped".into());
    let stats = estate.put(changed.clone()).unwrap();
    assert_eq!((stats.updated, stats.embedded), (1, 0));
    // A new tag changes the text: one embedding.
    changed[1].resource.tags.push(Tag {
        key: "team".into(),
        value: "payments".into(),
    });
    let stats = estate.put(changed).unwrap();
    assert_eq!((stats.updated, stats.embedded), (1, 1));
    assert_eq!(
        estate
            .store()
            .count(Collection::Estate, &Filter::all())
            .unwrap(),
        records().len() as u64
    );
}

#[test]
fn a_complete_scan_removes_what_it_no_longer_sees_in_its_scope_only() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(dir.path());
    let records = records();
    estate.put(records.clone()).unwrap();
    // The rds scan of production us-west-2 now sees only pg-instance-main1.
    let seen: HashSet<_> = [records[0].id()].into();
    // Listed incompletely, a type loses nothing.
    let unsure = estate
        .unseen(
            PROD,
            "us-west-2",
            "rds",
            &seen,
            &["rds_instance".to_owned()],
        )
        .unwrap();
    assert!(unsure.stale.is_empty() && unsure.total == 0, "{unsure:?}");
    let unseen = estate.unseen(PROD, "us-west-2", "rds", &seen, &[]).unwrap();
    assert_eq!(unseen.total, 2, "the scope holds two databases");
    let removed = estate.remove("rds", &unseen.stale).unwrap();
    assert_eq!(removed, 1, "pg-instance-main2 is gone");
    let left: Vec<_> = estate
        .list(&Filter::all().eq("service", "rds"))
        .unwrap()
        .into_iter()
        .map(|r| r.resource.identifier)
        .collect();
    assert_eq!(left.len(), 4);
    assert!(!left.contains(&"pg-instance-main2".to_owned()));
    assert_eq!(
        estate
            .store()
            .count(Collection::Estate, &Filter::all())
            .unwrap(),
        records.len() as u64 - 1
    );
}

#[test]
fn records_of_different_types_may_share_an_identifier() {
    // AWS keeps identifiers unique per type: an Aurora cluster and one of its instances
    // can both be called `orders`, and so can a bucket and a function.
    let dir = tempfile::tempdir().unwrap();
    let estate = estate(dir.path());
    let twins: Vec<Record> = ["rds_cluster", "rds_instance"]
        .into_iter()
        .map(|kind| resource(kind, PROD, "us-west-2", "orders", "orders", &[], json!({})))
        .collect();
    assert_ne!(twins[0].id(), twins[1].id());
    let stats = estate.put(twins.clone()).unwrap();
    assert_eq!(stats.added, 2);
    let mut types: Vec<_> = estate
        .get(&[twins[0].id(), twins[1].id()])
        .unwrap()
        .into_iter()
        .map(|r| r.resource.resource_type)
        .collect();
    types.sort();
    assert_eq!(types, ["rds_cluster", "rds_instance"]);
    assert_eq!(estate.put(twins).unwrap().unchanged, 2);
}

/// A reader's frozen copy lists from its catalog of plain fields (ids from the store, fields
/// from memory); the writer reads every payload. Both must give the same listing, and the
/// reader's whole records must still unseal.
#[test]
fn a_readers_listing_from_its_catalog_matches_the_writers() {
    let dir = tempfile::tempdir().unwrap();
    let sealer = Arc::new(Sealer::generate());
    let writer_store = store::open(&Location::Embedded(dir.path().join("store"))).unwrap();
    let writer = Estate::new(Arc::from(writer_store), embedder(), sealer.clone());
    writer.put(records()).unwrap();
    writer.store().publish().unwrap();
    let reader_store = store::open_reader(&Location::Embedded(dir.path().join("store"))).unwrap();
    let reader = Estate::new(Arc::from(reader_store), embedder(), sealer);
    assert!(reader.store().frozen() && !writer.store().frozen());
    assert!(writer.catalog().unwrap().is_none());
    assert_eq!(
        reader.catalog().unwrap().map(|c| c.len()),
        Some(records().len())
    );
    for query in [
        "",
        "env=prod",
        "buckets",
        "rds in us-east-1",
        "in staging account",
    ] {
        let request = SearchRequest {
            query: query.into(),
            limit: 100,
            ..Default::default()
        };
        let listed = |estate: &Estate| -> Vec<(String, String, Option<String>)> {
            search::summaries(estate, &accounts(), &request)
                .unwrap()
                .hits
                .into_iter()
                .map(|h| (h.identifier, h.account_name, h.state))
                .collect()
        };
        let from_catalog = listed(&reader);
        assert!(!from_catalog.is_empty(), "{query:?} listed nothing");
        assert_eq!(from_catalog, listed(&writer), "{query:?}");
        let records = search::search(&reader, &accounts(), &request).unwrap().hits;
        assert_eq!(records.len(), from_catalog.len(), "{query:?}");
        assert!(records.iter().all(|h| !h.record.resource.arn.is_empty()));
    }
}
