//! A data dir as a sync and a plan run leave it: a published store, an audit log, sync
//! status, trust, a plugin, the estate key in its file; and a digest of a whole folder tree.

use std::collections::BTreeMap;
use std::path::Path;

use cloudops_estate::store::edge::EdgeStore;
use cloudops_estate::store::{Collection, EstateStore, Filter, StoredPoint};
use cloudops_execute::audit::{AuditLog, Entry};
use cloudops_seal::{KeyStore, KeyStoreChoice, Sealer};
use sha2::{Digest, Sha256};

#[path = "../../estate/tests/common/mod.rs"]
#[allow(dead_code)]
mod points;

/// Resources in the fixture's store.
pub const RESOURCES: usize = 120;

/// Fills `dir` as a data dir (with `plugin_bytes` of component in one plugin) and returns
/// the sealer of its estate key.
pub fn data_dir(dir: &Path, plugin_bytes: usize) -> Sealer {
    let store = EdgeStore::open(&dir.join("store")).unwrap();
    let points: Vec<_> = (0..RESOURCES).map(|i| points::point(i, 1000)).collect();
    store.upsert(Collection::Estate, points).unwrap();
    store
        .upsert(Collection::ChatHistory, vec![points::point(9_999, 7)])
        .unwrap();
    store.publish().unwrap();
    drop(store);
    let log = AuditLog::open(dir);
    for n in 0..5 {
        log.append(&Entry::Principal {
            run: format!("run-{n}"),
            arn: "arn:aws:iam::111111111111:role/Admin".to_owned(),
        })
        .unwrap();
    }
    std::fs::write(dir.join("sync-status.json"), br#"{"scopes": {}}"#).unwrap();
    std::fs::write(dir.join("trusted-plugins.toml"), "[ec2]\nsha256 = \"ab\"\n").unwrap();
    std::fs::write(dir.join("approvals.json"), "[]").unwrap();
    let plugin = dir.join("plugins/ec2");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(plugin.join("plugin.toml"), "name = \"ec2\"\n").unwrap();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..plugin_bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(plugin.join("scanner.wasm"), noise).unwrap();
    key_of(dir)
}

/// The sealer of the estate key in `dir` (created there on first use).
pub fn key_of(dir: &Path) -> Sealer {
    let (key, _) = KeyStore::new(dir)
        .choice(KeyStoreChoice::File)
        .load_or_create()
        .unwrap();
    Sealer::from_key(&key)
}

/// Every file under `dir` (relative path → SHA-256 of its bytes), leaving out what a
/// writer's open changes (`.lock`).
pub fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.file_name().is_some_and(|n| n != ".lock") {
            let bytes = std::fs::read(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            out.insert(rel, hex::encode(Sha256::digest(&bytes)));
        }
    }
}

/// Fixture point `i` (as the estate's store tests make them).
pub fn point(i: usize) -> cloudops_estate::store::Point {
    points::point(i, 1000)
}

/// What a reader of the store in `data_dir` sees in `collection`.
pub fn stored(data_dir: &Path, collection: Collection) -> Vec<StoredPoint> {
    let store = EdgeStore::open_reader(&data_dir.join("store")).unwrap();
    store.scan(collection, &Filter::all()).unwrap()
}
