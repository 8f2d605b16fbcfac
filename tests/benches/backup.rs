//! Backup and restore figures for the default demo estate (3 accounts × 3 regions, ~6,500
//! resources), printed (not asserted), in one run:
//! - the baseline: a plain (sparse-aware) copy of the data dir, its time and bytes on disk;
//! - `backup`: snapshot, encryption and the archive written, its time and size;
//! - `verify`: every chunk and checksum read back;
//! - `restore`: verify, unpack into a fresh folder, rebuild the live shards and swap.
//!
//! The data dir is synced from the emulator first (six plugins, IAM, embeddings, sealing)
//! and holds the plugins and an audit log, as a user's would.
//!
//! Run: `source scripts/env.sh && cargo bench -p cloudops-tests --bench backup`
//! (`--profile dev` reuses the test build: dependencies optimised, cloudops's own crates not).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cloudops_demo::{seed_estate, EstateFile};
use cloudops_execute::audit::{AuditLog, Entry};
use cloudops_host::backup;
use cloudops_host::embed::Embedder;
use cloudops_host::estate::Estate;
use cloudops_host::plugin::Limits;
use cloudops_host::scan::sync::{self, SyncAccount, SyncOptions};
use cloudops_host::seal::{KeyStore, KeyStoreChoice, Sealer};
use cloudops_host::store::published::{copy_tree, dir_size};
use cloudops_host::store::{self, Location};
use cloudops_tests::{built_plugin, load_plugin, start_emulator};

const PLUGINS: [&str; 6] = ["ec2", "rds", "s3", "lambda", "vpc", "elb"];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let sealer = synced_data_dir(&data).await;
    let on_disk = dir_size(&data);
    println!("data dir:        {:>8.1} MiB on disk", mib(on_disk));

    let started = Instant::now();
    copy_tree(&data, &root.path().join("copy")).unwrap();
    let copy_s = started.elapsed().as_secs_f64();
    println!("plain copy:      {copy_s:>8.2} s     (baseline)");

    let started = Instant::now();
    let created = backup::create(&data, None, &sealer, &root.path().join("out"), 1).unwrap();
    let backup_s = started.elapsed().as_secs_f64();
    println!(
        "backup:          {backup_s:>8.2} s     {:.1}× the copy; archive {:.1} MiB ({:.0}% of \
         the data dir on disk), {}",
        backup_s / copy_s,
        mib(created.size),
        100.0 * created.size as f64 / on_disk as f64,
        created.manifest.summary.describe()
    );

    let started = Instant::now();
    backup::verify(&created.path, &sealer).unwrap();
    println!(
        "verify:          {:>8.2} s",
        started.elapsed().as_secs_f64()
    );

    let target = root.path().join("restored");
    let (key, _) = KeyStore::new(&data)
        .choice(KeyStoreChoice::File)
        .load_existing()
        .unwrap();
    KeyStore::new(&target)
        .choice(KeyStoreChoice::File)
        .import(&key)
        .unwrap();
    let started = Instant::now();
    backup::restore(&created.path, &target, &sealer, None, 2).unwrap();
    let restore_s = started.elapsed().as_secs_f64();
    println!(
        "restore:         {restore_s:>8.2} s     {:.1}× the copy (verify, unpack, live shards, swap)",
        restore_s / copy_s
    );
}

/// Seeds the demo estate, syncs it into `data`'s store, adds the plugins and an audit log;
/// returns the sealer of its estate key.
async fn synced_data_dir(data: &Path) -> Sealer {
    let file = EstateFile::default_demo();
    let emulator = start_emulator().await;
    let seeded = seed_estate(&emulator, &file, |_| {}).await.unwrap();
    let (key, _) = KeyStore::new(data)
        .choice(KeyStoreChoice::File)
        .load_or_create()
        .unwrap();
    let sealer = Sealer::from_key(&key);
    let store = store::open(&Location::Embedded(data.join("store"))).unwrap();
    let embedder =
        Arc::new(Embedder::from_env().expect("run scripts/setup and source scripts/env.sh"));
    let estate = Estate::new(Arc::from(store), embedder, Arc::new(Sealer::from_key(&key)));
    let accounts: Vec<SyncAccount> = seeded
        .accounts
        .iter()
        .map(|a| SyncAccount {
            name: a.name.clone(),
            client: a.client(&emulator),
            regions: file.account(&a.id).unwrap().regions.clone(),
        })
        .collect();
    let plugins = PLUGINS
        .iter()
        .map(|n| load_plugin(n, Limits::default()).unwrap())
        .collect();
    let started = Instant::now();
    let report = sync::sync(
        accounts,
        plugins,
        estate.clone(),
        SyncOptions::default(),
        Arc::new(|_| {}),
    )
    .await;
    estate.store().publish().unwrap();
    let found: usize = report.scopes.iter().map(|s| s.found).sum();
    println!(
        "synced the demo estate: {found} resources in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(estate);
    for name in PLUGINS {
        let dest = data.join("plugins").join(name);
        std::fs::create_dir_all(&dest).unwrap();
        for entry in std::fs::read_dir(built_plugin(name)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
        }
    }
    let log = AuditLog::open(data);
    for n in 0..100 {
        log.append(&Entry::Principal {
            run: format!("run-{n}"),
            arn: "arn:aws:iam::111111111111:role/Admin".to_owned(),
        })
        .unwrap();
    }
    sealer
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
