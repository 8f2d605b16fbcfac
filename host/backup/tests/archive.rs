//! Archives end to end on disk: what a backup holds, what a restore brings back, and every way
//! a damaged or foreign archive is refused with the data dir untouched.

use std::path::{Path, PathBuf};

use cloudops_backup::archive::CHUNK;
use cloudops_backup::{create, restore, verify, BackupError, ConfigOutcome};
use cloudops_estate::store::edge::EdgeStore;
use cloudops_estate::store::{Collection, EstateStore, Filter};
use cloudops_execute::audit;
use cloudops_seal::{KeyStore, KeyStoreChoice, Sealer};

use crate::common::{self, RESOURCES};

const NOW: i64 = 1_800_000_000;

/// A source data dir, its key, and a backup of it (with a config file).
struct Fixture {
    _tmp: tempfile::TempDir,
    source: PathBuf,
    sealer: Sealer,
    archive: PathBuf,
    config: PathBuf,
}

fn fixture(plugin_bytes: usize) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("data");
    let sealer = common::data_dir(&source, plugin_bytes);
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "[backup]\ns3 = \"s3://b/p\"\n").unwrap();
    let created = create(
        &source,
        Some(&config),
        &sealer,
        &tmp.path().join("out"),
        NOW,
    )
    .unwrap();
    Fixture {
        source,
        sealer,
        archive: created.path,
        config,
        _tmp: tmp,
    }
}

/// A data dir holding only the same estate key as `from` (as `cloudops key import` leaves it).
fn empty_with_key_of(from: &Path, dir: &Path) {
    let (key, _) = KeyStore::new(from)
        .choice(KeyStoreChoice::File)
        .load_existing()
        .unwrap();
    KeyStore::new(dir)
        .choice(KeyStoreChoice::File)
        .import(&key)
        .unwrap();
}

#[test]
fn a_restore_brings_back_the_store_the_audit_log_and_the_files_exactly() {
    let f = fixture(4096);
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("restored");
    empty_with_key_of(&f.source, &data);
    let config = target.path().join("etc/config.toml");
    let restored = restore(&f.archive, &data, &f.sealer, Some(&config), NOW + 60).unwrap();

    assert_eq!(restored.manifest.summary.estate, RESOURCES as u64);
    assert_eq!(restored.manifest.summary.audit_records, 5);
    assert_eq!(restored.manifest.summary.plugins, vec!["ec2".to_owned()]);
    for collection in Collection::ALL {
        assert_eq!(
            common::stored(&data, collection),
            common::stored(&f.source, collection),
            "{}",
            collection.name()
        );
    }
    let before = audit::verify(&f.source.join("audit.jsonl")).unwrap();
    assert_eq!(audit::verify(&data.join("audit.jsonl")).unwrap(), before);
    // The restored log goes on: the next record chains onto the restored head.
    audit::AuditLog::open(&data)
        .append(&audit::Entry::Principal {
            run: "after".into(),
            arn: "arn:aws:iam::111111111111:role/Admin".into(),
        })
        .unwrap();
    assert!(audit::verify(&data.join("audit.jsonl")).is_ok());
    for file in [
        "sync-status.json",
        "trusted-plugins.toml",
        "plugins/ec2/scanner.wasm",
    ] {
        assert_eq!(
            std::fs::read(data.join(file)).unwrap(),
            std::fs::read(f.source.join(file)).unwrap(),
            "{file}"
        );
    }
    // Machine-local state is not in a backup.
    assert!(!data.join("approvals.json").exists());
    assert!(data.join("keys/estate.key").exists(), "the key stays");
    assert_eq!(
        restored.config,
        Some(ConfigOutcome::Written(config.clone()))
    );
    assert_eq!(
        std::fs::read(&config).unwrap(),
        std::fs::read(&f.config).unwrap()
    );
    // The store's writer (the next sync) opens the restored store as it left it.
    let writer = EdgeStore::open(&data.join("store")).unwrap();
    assert_eq!(
        writer.count(Collection::Estate, &Filter::all()).unwrap(),
        RESOURCES as u64
    );
    assert!(no_leftovers(target.path(), "restored"));
}

#[test]
fn a_restore_keeps_a_different_config_and_writes_the_archived_one_beside_it() {
    let f = fixture(16);
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    empty_with_key_of(&f.source, &data);
    let config = target.path().join("config.toml");
    std::fs::write(&config, "# mine\n").unwrap();
    let restored = restore(&f.archive, &data, &f.sealer, Some(&config), NOW).unwrap();
    let Some(ConfigOutcome::KeptCurrent { archived, .. }) = restored.config else {
        panic!("{:?}", restored.config)
    };
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    assert_eq!(
        std::fs::read(archived).unwrap(),
        std::fs::read(&f.config).unwrap()
    );
}

/// Restores `archive` over a copy of the source's state and expects a refusal that leaves
/// the data dir byte for byte as it was, with nothing beside it.
fn refused(f: &Fixture, archive: &Path, sealer: &Sealer) -> BackupError {
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    empty_with_key_of(&f.source, &data);
    std::fs::write(data.join("sync-status.json"), "current").unwrap();
    let before = common::tree(&data);
    let err = restore(archive, &data, sealer, None, NOW).unwrap_err();
    assert_eq!(common::tree(&data), before, "{err}");
    assert!(no_leftovers(target.path(), "data"), "{err}");
    err
}

fn no_leftovers(parent: &Path, name: &str) -> bool {
    std::fs::read_dir(parent).unwrap().flatten().all(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        n == name || n == "etc" || n.ends_with(".restore-lock") || !n.starts_with(name)
    })
}

#[test]
fn an_altered_archive_is_refused_wherever_it_was_changed() {
    let f = fixture(3 * CHUNK);
    let bytes = std::fs::read(&f.archive).unwrap();
    let head = header_len(&bytes);
    let dir = tempfile::tempdir().unwrap();
    for at in [25, head - 3, head + 5, head + CHUNK + 40, bytes.len() - 1] {
        let mut altered = bytes.clone();
        altered[at] ^= 0x20;
        let path = dir.path().join(format!("altered-{at}.cbk"));
        std::fs::write(&path, &altered).unwrap();
        let err = refused(&f, &path, &f.sealer);
        assert!(
            matches!(err, BackupError::Tampered(_) | BackupError::Corrupt(_)),
            "byte {at}: {err}"
        );
        assert!(err.to_string().contains("nothing was changed"), "{err}");
    }
}

#[test]
fn a_truncated_archive_is_refused_as_truncated_wherever_it_ends() {
    let f = fixture(2 * CHUNK);
    let bytes = std::fs::read(&f.archive).unwrap();
    let head = header_len(&bytes);
    let dir = tempfile::tempdir().unwrap();
    // Inside the magic line, the header, a chunk, exactly between two chunks, in the last tag.
    for cut in [
        5,
        head - 1,
        head,
        head + 7,
        head + CHUNK + 16,
        bytes.len() - 1,
    ] {
        let path = dir.path().join(format!("cut-{cut}.cbk"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = refused(&f, &path, &f.sealer);
        assert!(
            matches!(err, BackupError::Truncated(_)),
            "cut at {cut}: {err}"
        );
        assert!(verify(&path, &f.sealer).is_err());
    }
    assert!(verify(&f.archive, &f.sealer).is_ok());
    // Bytes after the end are refused too.
    let path = dir.path().join("longer.cbk");
    std::fs::write(&path, [&bytes[..], b"x"].concat()).unwrap();
    assert!(matches!(
        refused(&f, &path, &f.sealer),
        BackupError::Corrupt(_)
    ));
}

#[test]
fn an_archive_of_another_estate_key_is_refused_and_says_how_to_import_it() {
    let f = fixture(16);
    let err = refused(&f, &f.archive, &Sealer::generate());
    assert!(matches!(err, BackupError::ForeignKey { .. }), "{err}");
    assert!(err.to_string().contains("cloudops key import"), "{err}");
}

#[test]
fn the_estate_key_is_never_in_an_archive() {
    let f = fixture(16);
    let bytes = std::fs::read(&f.archive).unwrap();
    let (key, _) = KeyStore::new(&f.source)
        .choice(KeyStoreChoice::File)
        .load_existing()
        .unwrap();
    let hex_key = hex::encode(&key[..]);
    assert!(!bytes.windows(32).any(|w| w == &key[..]));
    assert!(!bytes.windows(64).any(|w| w == hex_key.as_bytes()));
    assert!(!String::from_utf8_lossy(&bytes).contains("estate.key"));
}

/// A sync holding the store's writer lock with unpublished writes does not stop a backup,
/// which holds the last published state.
#[test]
fn a_backup_during_a_sync_holds_the_last_published_state_without_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sealer = common::data_dir(&data, 16);
    let writer = EdgeStore::open(&data.join("store")).unwrap();
    let more: Vec<_> = (RESOURCES..RESOURCES + 30)
        .map(crate::common::point)
        .collect();
    writer.upsert(Collection::Estate, more).unwrap();
    let during = create(&data, None, &sealer, &tmp.path().join("out"), NOW).unwrap();
    assert_eq!(during.manifest.summary.estate, RESOURCES as u64);
    writer.publish().unwrap();
    let after = create(&data, None, &sealer, &tmp.path().join("out"), NOW + 1).unwrap();
    assert_eq!(after.manifest.summary.estate, RESOURCES as u64 + 30);
    drop(writer);
    assert!(verify(&during.path, &sealer).is_ok());
}

/// Bytes before the first chunk: magic line, length, header JSON.
fn header_len(bytes: &[u8]) -> usize {
    let magic = cloudops_backup::archive::MAGIC.len();
    magic + 4 + u32::from_be_bytes(bytes[magic..magic + 4].try_into().unwrap()) as usize
}
