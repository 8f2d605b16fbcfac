//! Readers of the embedded store never wait for its writer (DESIGN §4), and damage is
//! reported, not hidden: real qdrant-edge stores in temporary directories (and, where this
//! process may mount one, a small tmpfs for a full disk).
#![cfg(unix)]

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudops_estate::store::edge::EdgeStore;
use cloudops_estate::store::{Collection, EstateStore, Filter, Point, Query, StoreError};

use crate::common;

/// The shared fixture point, as synced at time 1000.
fn point(i: usize) -> Point {
    common::point(i, 1000)
}

fn points(range: std::ops::Range<usize>) -> Vec<Point> {
    range.map(point).collect()
}

fn count(store: &dyn EstateStore) -> u64 {
    store.count(Collection::Estate, &Filter::all()).unwrap()
}

/// A store whose writer wrote `n` points and closed (which publishes them).
fn published_store(dir: &Path, n: usize) {
    let writer = EdgeStore::open(dir).unwrap();
    writer.upsert(Collection::Estate, points(0..n)).unwrap();
    drop(writer);
}

fn search_once(store: &dyn EstateStore) -> usize {
    store
        .search(
            Collection::Estate,
            &Query::Dense(point(3).dense),
            &Filter::all(),
            5,
        )
        .unwrap()
        .len()
}

#[test]
fn readers_answer_while_a_writer_writes_and_see_the_last_published_state() {
    let dir = tempfile::tempdir().unwrap();
    published_store(dir.path(), 2_000);

    let writer = EdgeStore::open(dir.path()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (dir, stop, answered) = (dir.path().to_owned(), stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let reader = EdgeStore::open_reader(&dir)
                        .unwrap_or_else(|e| panic!("a reader failed during a write: {e}"));
                    assert_eq!(search_once(&reader), 5);
                    seen.push(count(&reader));
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                seen
            })
        })
        .collect();
    // The writer's batches are not visible until it publishes.
    for start in (2_000..4_000).step_by(200) {
        writer
            .upsert(Collection::Estate, points(start..start + 200))
            .unwrap();
    }
    while answered.load(Ordering::SeqCst) < 6 {
        std::thread::sleep(Duration::from_millis(20));
    }
    writer.publish().unwrap();
    let after = EdgeStore::open_reader(dir.path()).unwrap();
    assert_eq!(count(&after), 4_000, "published at once");
    stop.store(true, Ordering::SeqCst);
    for reader in readers {
        for seen in reader.join().unwrap() {
            assert!(
                seen == 2_000 || seen == 4_000,
                "a reader saw {seen} points: a state that was never published"
            );
        }
    }
    drop(writer);
}

#[test]
fn many_readers_open_at_once_without_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    published_store(dir.path(), 500);
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let dir = dir.path().to_owned();
            std::thread::spawn(move || {
                let reader = EdgeStore::open_reader(&dir).unwrap();
                (count(&reader), search_once(&reader))
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.join().unwrap(), (500, 5));
    }
    // And a writer can open while readers hold their views.
    let held = EdgeStore::open_reader(dir.path()).unwrap();
    let writer = EdgeStore::open(dir.path()).unwrap();
    writer.upsert(Collection::Estate, points(500..600)).unwrap();
    drop(writer);
    assert_eq!(count(&held), 500, "an open reader keeps its state");
    assert_eq!(count(&EdgeStore::open_reader(dir.path()).unwrap()), 600);
}

#[test]
fn a_reader_refuses_to_write() {
    let dir = tempfile::tempdir().unwrap();
    published_store(dir.path(), 10);
    let reader = EdgeStore::open_reader(dir.path()).unwrap();
    let err = reader
        .upsert(Collection::Estate, points(10..11))
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
}

#[test]
fn a_writer_that_dies_before_publishing_leaves_readers_the_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    published_store(dir.path(), 300);
    let writer = EdgeStore::open(dir.path()).unwrap();
    writer.upsert(Collection::Estate, points(300..400)).unwrap();
    // No drop: nothing runs after a SIGKILL either. The lock goes with the process; here it
    // stays held, which is what a still-running writer looks like to readers.
    std::mem::forget(writer);
    let reader = EdgeStore::open_reader(dir.path()).unwrap();
    assert_eq!(count(&reader), 300);
}

fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        let meta = std::fs::metadata(&entry).unwrap();
        out.push((entry.display().to_string(), meta.len()));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

fn run(cmd: &str, args: &[&str]) -> bool {
    std::process::Command::new(cmd)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_read_only_store_can_be_searched_and_is_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    published_store(&store, 200);
    let before = listing(&store);
    assert!(run("chmod", &["-R", "a-w", store.to_str().unwrap()]));
    // root ignores permission bits; a read-only bind mount binds root too.
    let mount = dir.path().join("ro");
    std::fs::create_dir(&mount).unwrap();
    let (m, s) = (mount.to_str().unwrap(), store.to_str().unwrap());
    let mounted = run("mount", &["--bind", s, m]) && {
        let ro = run("mount", &["-o", "remount,ro,bind", m]);
        if !ro {
            run("umount", &[m]);
        }
        ro
    };
    let target = if mounted {
        mount.clone()
    } else {
        println!("SKIPPED: read-only bind mount (cannot mount here); chmod a-w only");
        store.clone()
    };
    let result = (|| {
        let reader = EdgeStore::open_reader(&target)?;
        Ok::<_, StoreError>((count(&reader), search_once(&reader)))
    })();
    if mounted {
        assert!(run("umount", &[m]));
    }
    assert!(run("chmod", &["-R", "u+w", store.to_str().unwrap()]));
    assert_eq!(result.unwrap(), (200, 5));
    assert_eq!(listing(&store), before, "a reader wrote into the store");
}

#[test]
fn a_deleted_segment_folder_is_detected_by_the_writer_and_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    published_store(dir.path(), 3_000);
    let writer = EdgeStore::open(dir.path()).unwrap();
    writer.optimize().unwrap();
    drop(writer);

    let biggest = |segments: &Path| {
        std::fs::read_dir(segments)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .max_by_key(|p| cloudops_estate::store::published::dir_size(p))
            .unwrap()
    };
    // The live store loses its biggest segment: the next writer refuses and says what to do.
    let live = biggest(&dir.path().join("aws_estate/segments"));
    std::fs::remove_dir_all(&live).unwrap();
    let err = EdgeStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("of the 3000 records") && message.contains("cloudops store rebuild"),
        "{message}"
    );
    // Readers still answer from the published generation, which is whole.
    assert_eq!(count(&EdgeStore::open_reader(dir.path()).unwrap()), 3_000);

    // Damage to the generation itself is reported to readers.
    let current = std::fs::read_to_string(dir.path().join("published/CURRENT")).unwrap();
    let generation = dir.path().join("published").join(current.trim());
    std::fs::remove_dir_all(biggest(&generation.join("aws_estate/segments"))).unwrap();
    let err = EdgeStore::open_reader(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::Damaged { .. }) && err.to_string().contains("store rebuild"),
        "{err}"
    );
}

#[test]
fn an_unpublished_first_sync_is_reported_to_readers_not_hidden() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing at all: an empty answer.
    assert_eq!(count(&EdgeStore::open_reader(dir.path()).unwrap()), 0);
    let writer = EdgeStore::open(dir.path()).unwrap();
    writer.upsert(Collection::Estate, points(0..10)).unwrap();
    // The writer published the empty store when it opened; readers see that meanwhile.
    assert_eq!(count(&EdgeStore::open_reader(dir.path()).unwrap()), 0);
    drop(writer);
    assert_eq!(count(&EdgeStore::open_reader(dir.path()).unwrap()), 10);
}

/// Mounts a tmpfs of `mb` MB at `dir`; `None` (after a `SKIPPED:` line) where this process may
/// not mount.
fn tmpfs(dir: &Path, mb: u64, test: &str) -> Option<Unmount> {
    let ok = run(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={mb}m"),
            "tmpfs",
            dir.to_str().unwrap(),
        ],
    );
    if !ok {
        // Straight to stdout: libtest swallows a passing test's `println!`, and scripts/test
        // counts this line as a skipped test.
        let _ = writeln!(
            std::io::stdout().lock(),
            "SKIPPED: {test}: cannot mount a tmpfs here (needs root)"
        );
        return None;
    }
    Some(Unmount(dir.to_owned()))
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        run("umount", &[self.0.to_str().unwrap()]);
    }
}

#[test]
fn a_full_disk_is_a_clear_error_before_and_during_writes() {
    let dir = tempfile::tempdir().unwrap();
    // Too small to start: refused before anything is written.
    {
        let Some(_mounted) = tmpfs(dir.path(), 20, "full disk before writes") else {
            return;
        };
        let err = EdgeStore::open(&dir.path().join("store")).unwrap_err();
        assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
        assert!(err.to_string().contains("the disk is full: free"), "{err}");
    }
    // Room to start, then the disk fills up during the writes.
    let Some(_mounted) = tmpfs(dir.path(), 120, "full disk during writes") else {
        return;
    };
    let store_dir = dir.path().join("store");
    let writer = EdgeStore::open(&store_dir).unwrap();
    let started = Instant::now();
    let mut written = 0;
    let err = loop {
        match writer.upsert(Collection::Estate, points(written..written + 500)) {
            Ok(()) => written += 500,
            Err(e) => break e,
        }
        assert!(started.elapsed() < Duration::from_secs(120), "never filled");
    };
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
    assert!(
        err.to_string().contains(&store_dir.display().to_string()),
        "{err}"
    );
    // Whole batches of the last call may have gone in before the check stopped it.
    let held = count(&writer);
    assert!(
        held >= written as u64 && held < written as u64 + 500 && held.is_multiple_of(100),
        "{held} points after {written} acknowledged"
    );
    std::mem::forget(writer); // publishing needs room this disk does not have
}

#[test]
fn corrupted_payloads_are_reported_as_damage_and_rewriting_repairs_them() {
    let dir = tempfile::tempdir().unwrap();
    published_store(dir.path(), 200);
    // Garbage over every payload page of the live store.
    let mut pages = 0;
    for file in walk(&dir.path().join("aws_estate/segments")) {
        let is_page = file.to_string_lossy().contains("payload_storage")
            && file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("page_");
        if is_page && file.is_file() {
            let len = std::fs::metadata(&file).unwrap().len() as usize;
            std::fs::write(&file, vec![0xA5u8; len]).unwrap();
            pages += 1;
        }
    }
    assert!(pages > 0, "no payload pages found");
    let writer = EdgeStore::open(dir.path()).unwrap();
    let ids: Vec<_> = points(0..200).iter().map(|p| p.id).collect();
    let err = writer
        .retrieve(Collection::Estate, &ids, false)
        .expect_err("corrupted payloads read back without an error");
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("store rebuild"), "{err}");
    // Writing the points again (what a re-sync does) replaces the damaged payloads.
    writer.upsert(Collection::Estate, points(0..200)).unwrap();
    let read = writer.retrieve(Collection::Estate, &ids, false).unwrap();
    assert_eq!(read.len(), 200);
    assert!(read
        .iter()
        .all(|p| p.payload["account_id"] == "111111111111"));
}
