//! The embedded backend: Qdrant in this process, through `qdrant-edge`.
//!
//! Over 800 lines: every store operation of the one backend in qdrant-edge's types, beside the
//! single-writer lock they rely on; published snapshots are in `published.rs`.
//!
//! Layout: one [`EdgeShard`] per [`Collection`] in `<dir>/<collection name>/` (segments, a
//! write-ahead log and `edge_config.json`), `<dir>/.lock`, held by the one writer, and
//! `<dir>/published/`, the generations readers open ([`super::published`]).
//!
//! **Readers never wait for a writer** (DESIGN §4). The engine cannot share its files: it
//! writes into every shard it loads (config, manifest, an appendable segment, the WAL), and its
//! read-only follower (`ReadOnlyEdgeShard`) skips appendable segments, which hold everything
//! below the optimizer's thresholds, i.e. most of a small estate. One owner process serving
//! local clients would make every command depend on a daemon. So the store swaps snapshots:
//!
//! - **One writer** ([`EdgeStore::open`]: sync, demo) holds `.lock` and changes the live shards.
//!   When it is done ([`EstateStore::publish`], or when it is dropped) it flushes and copies the
//!   segments into a new immutable generation, then switches `published/CURRENT` by rename.
//! - **Readers** ([`EdgeStore::open_reader`]: search, status, plan, the app) take no lock and
//!   write nothing under `<dir>`: they copy the current generation into a private scratch
//!   folder (the system temp dir) and load that copy with the WAL disabled. Any number run at
//!   once, during a sync they see the state of the last finished one, and a read-only data dir
//!   can be searched.
//! - **A crash** of the writer leaves the last generation untouched, and `.writing` says the
//!   live shards are ahead of it. Without that marker the live shards must hold what the last
//!   manifest counted; a writer that finds less (a segment folder deleted, files lost) refuses
//!   with [`StoreError::Damaged`], which offers `cloudops store rebuild`. A reader checks its
//!   generation's counts against its manifest the same way.
//!
//! Costs: a reader copies the segments (tens of MB for thousands of resources; a few ms to a
//! few hundred ms) and the disk holds up to three copies (live and two generations).
//!
//! Each shard has a dense vector [`DENSE_VECTOR`] ([`DENSE_DIM`] wide, cosine) and a sparse
//! vector [`LEXICAL_VECTOR`] scored with IDF, plus a payload index on every field of
//! [`Collection::indexed_fields`] (integer for [`Collection::integer_fields`], keyword
//! otherwise). Indexes missing from an older store are added when it is opened.
//!
//! Writes go to the write-ahead log first and are applied at once; a killed process loses at
//! most the batch it was writing, and the log is replayed on the next open. Nothing optimizes
//! in the background: [`EstateStore::optimize`] builds the HNSW graph after a sync. Before
//! each batch the writer checks free space ([`super::disk`]), so a full disk is an error that
//! says how much to free.
//!
//! Dense search is exact (brute force over all vectors) while a collection holds fewer than
//! [`EdgeOptions::exact_search_below`] points, and HNSW above, with the beam widths in
//! [`EdgeOptions`]. DESIGN.md §5.3 measured poor HNSW recall with default parameters on
//! uniformly random vectors; `host/estate/benches/store.rs` measures recall against brute force on
//! clustered ones, and the defaults below come from it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

use qdrant_edge::{
    Condition as EdgeCondition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard,
    EdgeSparseVectorParams, EdgeVectorParams, FieldCondition, FieldIndexOperations,
    Filter as EdgeFilter, HnswIndexConfig, JsonPath, Match, Modifier, NamedQuery,
    PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStruct, QueryEnum, QueryRequest, Range, RetrieveRequest, ScoredPoint, ScoringQuery,
    ScrollRequest, SearchParams, UpdateOperation, VectorInternal, VectorStructInternal, Vectors,
    WalOptions, WithPayloadInterface, WithVector,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::published::{self, WRITING_MARKER};
use super::{
    disk, Collection, Condition, EstateStore, Filter, Hit, Point, Query, StoreError, StoredPoint,
    DENSE_DIM, DENSE_VECTOR, LEXICAL_VECTOR, UPSERT_BATCH,
};

/// Points read per page when scanning.
const SCAN_PAGE: usize = 1_000;

/// Capacity of one write-ahead log file. The crate's default (32 MiB, preallocated) is more
/// than a batch of [`UPSERT_BATCH`] points (about 200 KiB) needs, and the small chat history
/// collection would carry the same 32 MiB.
const WAL_SEGMENT_BYTES: usize = 8 * 1024 * 1024;

/// Search tuning of the embedded store. The defaults come from `host/estate/benches/store.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeOptions {
    /// Dense searches are exact while a collection holds fewer points than this; exact search
    /// over 10k 384-d vectors takes about a millisecond.
    pub exact_search_below: u64,
    /// Beam width of an HNSW search (`ef`); higher is slower and finds more true neighbours.
    pub hnsw_ef: usize,
    /// Links per node in the HNSW graph (`m`).
    pub hnsw_m: usize,
    /// Beam width while building the HNSW graph (`ef_construct`).
    pub hnsw_ef_construct: usize,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            exact_search_below: 20_000,
            hnsw_ef: 128,
            hnsw_m: 16,
            hnsw_ef_construct: 128,
        }
    }
}

/// The embedded store: one `qdrant-edge` shard per collection under one directory.
pub struct EdgeStore {
    dir: PathBuf,
    options: EdgeOptions,
    /// One per collection, in [`Collection::ALL`] order.
    shards: Vec<Shard>,
    /// Writes share it; publishing takes it alone, so a generation is never copied mid-batch.
    gate: RwLock<()>,
    /// Declared after the shards: fields drop in order, and the scratch folder of a reader may
    /// only go once its shards are closed.
    role: Role,
}

enum Role {
    Writer {
        /// Held (with an exclusive advisory lock) for as long as the store is open.
        _lock: File,
        /// Written since the last publication.
        dirty: AtomicBool,
    },
    Reader {
        /// The private copy the shards were loaded from; deleted on drop.
        _scratch: tempfile::TempDir,
    },
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field(
                "role",
                &match self.role {
                    Role::Writer { .. } => "writer",
                    Role::Reader { .. } => "reader",
                },
            )
            .finish_non_exhaustive()
    }
}

struct Shard {
    collection: Collection,
    shard: EdgeShard,
    /// Points in the shard, refreshed after every write; decides exact vs HNSW search.
    points: AtomicU64,
    /// Where disk errors are reported (the store dir for a writer).
    disk_dir: PathBuf,
}

impl EdgeStore {
    /// Opens the store in `dir` as its one writer, creating it (and the directory) on first
    /// use, with the default [`EdgeOptions`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, EdgeOptions::default())
    }

    /// Opens the store in `dir` as its writer with explicit search tuning.
    pub fn open_with(dir: &Path, options: EdgeOptions) -> Result<Self, StoreError> {
        let open_error = |message: String| StoreError::Open {
            path: dir.to_owned(),
            message,
        };
        fs::create_dir_all(dir).map_err(|e| {
            published::disk_error(dir, &e)
                .unwrap_or_else(|| open_error(format!("cannot create it: {e}")))
        })?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))
            .map_err(|e| open_error(format!("cannot create its lock file: {e}")))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(open_error(
                    "another cloudops sync is writing it; wait for that one to finish \
                     (searches do not need to)"
                        .to_owned(),
                ))
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(open_error(format!("cannot lock it: {e}")))
            }
        }
        disk::ensure_free(dir, disk::OPEN_MARGIN)?;
        let shards = Collection::ALL
            .iter()
            .map(|&c| Shard::open(dir, dir, c, &options, false))
            .collect::<Result<Vec<_>, _>>()?;
        // The last writer died before publishing what it wrote: this one publishes when it
        // is done even if it writes nothing (a re-sync that finds everything unchanged),
        // else readers would go on seeing the state before the killed sync.
        let unpublished = dir.join(WRITING_MARKER).exists();
        let store = Self {
            dir: dir.to_owned(),
            options,
            shards,
            gate: RwLock::new(()),
            role: Role::Writer {
                _lock: lock,
                dirty: AtomicBool::new(unpublished),
            },
        };
        match published::current(dir)? {
            // A store from before generations existed, or a new one: readers get it now.
            None => store.publish()?,
            Some(generation) if !dir.join(WRITING_MARKER).exists() => {
                store.check_against(&generation.manifest, "the last sync left")?
            }
            // The last writer stopped before publishing: the live shards are legitimately ahead.
            Some(_) => {}
        }
        Ok(store)
    }

    /// Opens the store in `dir` for reading: a private copy of its current generation, or
    /// an empty store when nothing was ever written. Takes no lock and writes nothing under
    /// `dir`.
    pub fn open_reader(dir: &Path) -> Result<Self, StoreError> {
        Self::open_reader_with(dir, EdgeOptions::default())
    }

    /// [`EdgeStore::open_reader`] with explicit search tuning.
    pub fn open_reader_with(dir: &Path, options: EdgeOptions) -> Result<Self, StoreError> {
        // A writer may publish (and drop the generation before the previous one) between our
        // reading CURRENT and copying; a fresh look at CURRENT then succeeds.
        let mut last_error = None;
        for _ in 0..3 {
            match Self::try_open_reader(dir, options) {
                Ok(store) => return Ok(store),
                Err(e @ (StoreError::DiskFull { .. } | StoreError::Damaged { .. })) => {
                    return Err(e)
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("three attempts"))
    }

    fn try_open_reader(dir: &Path, options: EdgeOptions) -> Result<Self, StoreError> {
        let scratch_error = |e: std::io::Error, scratch: &Path| {
            published::disk_error(scratch, &e).unwrap_or_else(|| StoreError::Open {
                path: scratch.to_owned(),
                message: format!("cannot make a private copy of the store to read: {e}"),
            })
        };
        let tmp = std::env::temp_dir();
        let generation = published::current(dir)?;
        let source_size = generation
            .as_ref()
            .map_or(0, |g| published::dir_size(&g.dir));
        disk::ensure_free(&tmp, source_size + disk::WRITE_MARGIN)?;
        let scratch = tempfile::Builder::new()
            .prefix("cloudops-read-")
            .tempdir_in(&tmp)
            .map_err(|e| scratch_error(e, &tmp))?;
        if let Some(generation) = &generation {
            published::copy_tree(&generation.dir, scratch.path())
                .map_err(|e| scratch_error(e, scratch.path()))?;
        } else if dir.join(Collection::Estate.name()).is_dir() {
            // Written but never published: only while the first sync of a new store runs.
            return Err(StoreError::Open {
                path: dir.to_owned(),
                message: "the first sync into it has not finished yet; search again when it has \
                          (or, if no sync is running, run `cloudops sync` once)"
                    .to_owned(),
            });
        }
        let shards = Collection::ALL
            .iter()
            .map(|&c| Shard::open(scratch.path(), dir, c, &options, true))
            .collect::<Result<Vec<_>, _>>()?;
        let store = Self {
            dir: dir.to_owned(),
            options,
            shards,
            gate: RwLock::new(()),
            role: Role::Reader { _scratch: scratch },
        };
        if let Some(generation) = generation {
            store.check_against(&generation.manifest, "its last publication recorded")?;
        }
        Ok(store)
    }

    /// Fails with [`StoreError::Damaged`] when a collection holds fewer points than the
    /// manifest counted: files were lost. More points than counted cannot come from damage.
    fn check_against(&self, manifest: &published::Manifest, whose: &str) -> Result<(), StoreError> {
        for shard in &self.shards {
            let have = shard.points.load(Ordering::Relaxed);
            let want = manifest.count(shard.collection);
            if have < want {
                return Err(published::damaged(
                    &self.dir,
                    format!(
                        "{} holds {have} of the {want} records {whose} (generation {})",
                        shard.collection.name(),
                        manifest.generation
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The search tuning in use.
    pub fn options(&self) -> EdgeOptions {
        self.options
    }

    /// True for a reader's view ([`EdgeStore::open_reader`]).
    pub fn is_reader(&self) -> bool {
        matches!(self.role, Role::Reader { .. })
    }

    fn shard(&self, collection: Collection) -> &Shard {
        let index = Collection::ALL
            .iter()
            .position(|&c| c == collection)
            .expect("every collection is in Collection::ALL");
        &self.shards[index]
    }

    /// Checks that this is the writer and that the disk has room, and marks the live shards
    /// as ahead of the published generation.
    fn before_write(&self, operation: &'static str) -> Result<(), StoreError> {
        let Role::Writer { dirty, .. } = &self.role else {
            return Err(StoreError::ReadOnly(operation));
        };
        disk::ensure_free(&self.dir, disk::WRITE_MARGIN)?;
        if !dirty.swap(true, Ordering::SeqCst) {
            let marker = self.dir.join(WRITING_MARKER);
            File::create(&marker).map_err(|e| {
                published::disk_error(&self.dir, &e).unwrap_or_else(|| StoreError::Open {
                    path: marker.clone(),
                    message: format!("cannot create it: {e}"),
                })
            })?;
        }
        Ok(())
    }

    fn publish_now(&self) -> Result<(), StoreError> {
        let Role::Writer { dirty, .. } = &self.role else {
            return Ok(());
        };
        let _alone = self.gate.write().unwrap_or_else(|e| e.into_inner());
        for shard in &self.shards {
            shard.shard.flush().map_err(|e| shard.error("flush", e))?;
        }
        let counts: Vec<(Collection, u64)> = self
            .shards
            .iter()
            .map(|s| (s.collection, s.points.load(Ordering::Relaxed)))
            .collect();
        published::publish(&self.dir, &counts)?;
        dirty.store(false, Ordering::SeqCst);
        match fs::remove_file(self.dir.join(WRITING_MARKER)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Open {
                path: self.dir.join(WRITING_MARKER),
                message: format!("cannot remove it after publishing: {e}"),
            }),
            _ => Ok(()),
        }
    }
}

impl Drop for EdgeStore {
    fn drop(&mut self) {
        if let Role::Writer { dirty, .. } = &self.role {
            if dirty.load(Ordering::SeqCst) {
                if let Err(e) = self.publish_now() {
                    tracing::error!(
                        "the store's changes were kept, but readers still see the state before \
                         them: {e}"
                    );
                }
            }
        }
    }
}

impl Shard {
    /// Opens (or creates) the shard of `collection` under `root`. A reader's copy is loaded
    /// with the WAL disabled: it has none, and the engine would otherwise create one.
    fn open(
        root: &Path,
        store_dir: &Path,
        collection: Collection,
        options: &EdgeOptions,
        reader: bool,
    ) -> Result<Self, StoreError> {
        let path = root.join(collection.name());
        let open_error = |message: String| StoreError::Open {
            path: path.clone(),
            message,
        };
        let config = shard_config(options, reader);
        let exists = path.is_dir()
            && fs::read_dir(&path)
                .map_err(|e| open_error(format!("cannot read it: {e}")))?
                .next()
                .is_some();
        let shard = if exists {
            EdgeShard::load(&path, Some(config)).map_err(|e| {
                let message = e.to_string();
                if is_disk_full(&message) {
                    disk::full(store_dir)
                } else {
                    published::damaged(store_dir, format!("{}: {message}", collection.name()))
                }
            })?
        } else {
            EdgeShard::new(&path, config).map_err(|e| {
                let message = e.to_string();
                if is_disk_full(&message) {
                    disk::full(store_dir)
                } else {
                    open_error(message)
                }
            })?
        };
        let shard = Shard {
            collection,
            shard,
            points: AtomicU64::new(0),
            disk_dir: store_dir.to_owned(),
        };
        if !reader {
            shard.ensure_indexes()?;
        }
        shard.refresh_count()?;
        Ok(shard)
    }

    fn error(&self, operation: &'static str, err: impl std::fmt::Display) -> StoreError {
        let message = err.to_string();
        if is_disk_full(&message) {
            return disk::full(&self.disk_dir);
        }
        StoreError::Operation {
            operation,
            collection: self.collection.name(),
            message,
        }
    }

    /// A read the engine could not answer: the query was checked beforehand, so its files are
    /// damaged (a corrupted payload, a missing vector file). Saying so, with the repair, keeps
    /// every later sync from failing on the same record with an opaque message.
    fn read_error(&self, operation: &'static str, err: impl std::fmt::Display) -> StoreError {
        match self.error(operation, err) {
            StoreError::Operation { message, .. } => published::damaged(
                &self.disk_dir,
                format!(
                    "{operation} on {} failed: {message}",
                    self.collection.name()
                ),
            ),
            other => other,
        }
    }

    /// Hands every point matching `filter` to `each`, a page at a time, with its payload
    /// when `with_payload`.
    fn scroll_all(
        &self,
        filter: &Filter,
        with_payload: bool,
        mut each: impl FnMut(qdrant_edge::Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let edge = edge_filter(filter)?;
        let mut offset = None;
        loop {
            let (records, next) = self
                .shard
                .scroll(ScrollRequest {
                    offset,
                    limit: Some(SCAN_PAGE),
                    filter: edge.clone(),
                    with_payload: Some(WithPayloadInterface::Bool(with_payload)),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(|e| self.read_error("scan", e))?;
            for record in records {
                each(record)?;
            }
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Creates the payload indexes the collection should have and does not.
    fn ensure_indexes(&self) -> Result<(), StoreError> {
        let info = self
            .shard
            .info()
            .map_err(|e| self.error("create payload index", e))?;
        for &field in self.collection.indexed_fields() {
            let key = json_path(field)?;
            if info.payload_schema.contains_key(&key) {
                continue;
            }
            let kind = if self.collection.integer_fields().contains(&field) {
                PayloadSchemaType::Integer
            } else {
                PayloadSchemaType::Keyword
            };
            self.shard
                .update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: key,
                        field_schema: Some(PayloadFieldSchema::FieldType(kind)),
                    }),
                ))
                .map_err(|e| self.error("create payload index", format!("{field}: {e}")))?;
        }
        Ok(())
    }

    fn count(&self, filter: Option<EdgeFilter>) -> Result<u64, StoreError> {
        let n = self
            .shard
            .count(CountRequest {
                filter,
                exact: true,
            })
            .map_err(|e| self.read_error("count", e))?;
        Ok(n as u64)
    }

    fn refresh_count(&self) -> Result<(), StoreError> {
        let n = self.count(None)?;
        self.points.store(n, Ordering::Relaxed);
        Ok(())
    }

    fn write(&self, operation: &'static str, op: PointOperations) -> Result<(), StoreError> {
        let result = self
            .shard
            .update(UpdateOperation::PointOperation(op))
            .map_err(|e| self.error(operation, e));
        // Keep the count right even when a later batch failed.
        self.refresh_count()?;
        result
    }
}

/// The engine reports I/O errors as text; ENOSPC reads like this on Linux.
fn is_disk_full(message: &str) -> bool {
    message.contains("No space left on device") || message.contains("os error 28")
}

fn shard_config(options: &EdgeOptions, reader: bool) -> EdgeConfig {
    let hnsw = HnswIndexConfig {
        m: options.hnsw_m,
        ef_construct: options.hnsw_ef_construct,
        ..HnswIndexConfig::default()
    };
    EdgeConfig::builder()
        .vector(
            DENSE_VECTOR,
            EdgeVectorParams::builder(DENSE_DIM, Distance::Cosine).build(),
        )
        .sparse_vector(
            LEXICAL_VECTOR,
            EdgeSparseVectorParams::builder()
                .modifier(Modifier::Idf)
                .build(),
        )
        .hnsw_config(hnsw)
        .wal_options(WalOptions {
            segment_capacity: WAL_SEGMENT_BYTES,
            ..WalOptions::default()
        })
        .wal_enabled(!reader)
        .build()
}

fn json_path(field: &str) -> Result<JsonPath, StoreError> {
    field
        .parse()
        .map_err(|_| StoreError::Invalid(format!("`{field}` is not a valid payload field name")))
}

fn point_id(id: Uuid) -> PointId {
    PointId::Uuid(id)
}

fn uuid_of(id: &PointId) -> Result<Uuid, StoreError> {
    match id {
        PointId::Uuid(uuid) => Ok(*uuid),
        PointId::NumId(n) => Err(StoreError::Invalid(format!(
            "the store holds a point with numeric id {n}; cloudops writes only UUIDs"
        ))),
    }
}

/// Converts a filter; `None` when it has no conditions.
fn edge_filter(filter: &Filter) -> Result<Option<EdgeFilter>, StoreError> {
    if filter.is_all() {
        return Ok(None);
    }
    let convert = |conditions: &[Condition]| -> Result<Option<Vec<EdgeCondition>>, StoreError> {
        if conditions.is_empty() {
            return Ok(None);
        }
        conditions
            .iter()
            .map(edge_condition)
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    };
    Ok(Some(EdgeFilter {
        should: None,
        min_should: None,
        must: convert(&filter.must)?,
        must_not: convert(&filter.must_not)?,
    }))
}

fn edge_condition(condition: &Condition) -> Result<EdgeCondition, StoreError> {
    Ok(match condition {
        // `MatchAny` matches when any of the field's values (a keyword or each keyword of a
        // list such as `tag_pairs`) is one of `values`.
        Condition::AnyOf { field, values } => EdgeCondition::Field(FieldCondition::new_match(
            json_path(field)?,
            Match::from(values.clone()),
        )),
        Condition::Below { field, bound } => EdgeCondition::Field(FieldCondition::new_range(
            json_path(field)?,
            Range {
                lt: Some((*bound as f64).into()),
                gt: None,
                gte: None,
                lte: None,
            },
        )),
        Condition::Ids(ids) => EdgeCondition::HasId(ids.iter().copied().map(point_id).collect()),
    })
}

fn edge_point(point: Point) -> Result<PointStruct, StoreError> {
    point.validate()?;
    let Point {
        id,
        dense,
        lexical,
        payload,
    } = point;
    let mut vectors = vec![(DENSE_VECTOR, VectorInternal::Dense(dense))];
    if !lexical.is_empty() {
        let sparse = qdrant_edge::SparseVector::new(lexical.indices, lexical.values)
            .map_err(|e| StoreError::Invalid(format!("point {id}: lexical vector: {e}")))?;
        vectors.push((LEXICAL_VECTOR, VectorInternal::Sparse(sparse)));
    }
    Ok(PointStruct::new(
        point_id(id),
        Vectors::new_named(vectors),
        Value::Object(payload),
    ))
}

fn dense_of(vector: Option<VectorStructInternal>) -> Option<Vec<f32>> {
    match vector? {
        VectorStructInternal::Named(mut named) => match named.remove(DENSE_VECTOR)? {
            VectorInternal::Dense(dense) => Some(dense),
            _ => None,
        },
        _ => None,
    }
}

fn payload_of(payload: Option<qdrant_edge::Payload>) -> Map<String, Value> {
    payload.map(|p| p.0).unwrap_or_default()
}

impl EstateStore for EdgeStore {
    fn upsert(&self, collection: Collection, points: Vec<Point>) -> Result<(), StoreError> {
        let shard = self.shard(collection);
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let mut points = points.into_iter().peekable();
        while points.peek().is_some() {
            self.before_write("upsert")?;
            let batch = points
                .by_ref()
                .take(UPSERT_BATCH)
                .map(edge_point)
                .collect::<Result<Vec<_>, _>>()?;
            shard.write(
                "upsert",
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(
                    batch.into_iter().map(Into::into).collect(),
                )),
            )?;
        }
        Ok(())
    }

    fn delete(&self, collection: Collection, ids: &[Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let shard = self.shard(collection);
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        for chunk in ids.chunks(UPSERT_BATCH * 10) {
            self.before_write("delete")?;
            shard.write(
                "delete",
                PointOperations::DeletePoints {
                    ids: chunk.iter().copied().map(point_id).collect(),
                },
            )?;
        }
        Ok(())
    }

    fn delete_where(&self, collection: Collection, filter: &Filter) -> Result<u64, StoreError> {
        let shard = self.shard(collection);
        let edge = edge_filter(filter)?;
        let matching = shard.count(edge.clone())?;
        if matching == 0 {
            return Ok(0);
        }
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        self.before_write("delete")?;
        shard.write(
            "delete",
            PointOperations::DeletePointsByFilter(edge.unwrap_or_default()),
        )?;
        Ok(matching)
    }

    fn retrieve(
        &self,
        collection: Collection,
        ids: &[Uuid],
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>, StoreError> {
        let shard = self.shard(collection);
        let records = shard
            .shard
            .retrieve(RetrieveRequest {
                point_ids: ids.iter().copied().map(point_id).collect(),
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: Some(if with_dense {
                    WithVector::Selector(vec![DENSE_VECTOR.to_owned()])
                } else {
                    WithVector::Bool(false)
                }),
            })
            .map_err(|e| shard.read_error("retrieve", e))?;
        records
            .into_iter()
            .map(|record| {
                Ok(StoredPoint {
                    id: uuid_of(&record.id)?,
                    dense: dense_of(record.vector),
                    payload: payload_of(record.payload),
                })
            })
            .collect()
    }

    fn scan(
        &self,
        collection: Collection,
        filter: &Filter,
    ) -> Result<Vec<StoredPoint>, StoreError> {
        let mut out = Vec::new();
        self.shard(collection).scroll_all(filter, true, |record| {
            out.push(StoredPoint {
                id: uuid_of(&record.id)?,
                dense: None,
                payload: payload_of(record.payload),
            });
            Ok(())
        })?;
        out.sort_by_key(|p| p.id);
        Ok(out)
    }

    fn scan_ids(&self, collection: Collection, filter: &Filter) -> Result<Vec<Uuid>, StoreError> {
        let mut out = Vec::new();
        self.shard(collection).scroll_all(filter, false, |record| {
            out.push(uuid_of(&record.id)?);
            Ok(())
        })?;
        out.sort();
        Ok(out)
    }

    fn frozen(&self) -> bool {
        // A reader's shards are its private copy of a published generation.
        self.is_reader()
    }

    fn search(
        &self,
        collection: Collection,
        query: &Query,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let shard = self.shard(collection);
        let (vector, using, params) = match query {
            Query::Dense(dense) => {
                if dense.len() != DENSE_DIM {
                    return Err(StoreError::Invalid(format!(
                        "dense query has {} dimensions, expected {DENSE_DIM}",
                        dense.len()
                    )));
                }
                let exact = shard.points.load(Ordering::Relaxed) < self.options.exact_search_below;
                let params = SearchParams {
                    hnsw_ef: Some(self.options.hnsw_ef.max(limit)),
                    exact,
                    ..SearchParams::default()
                };
                (
                    VectorInternal::Dense(dense.clone()),
                    DENSE_VECTOR,
                    Some(params),
                )
            }
            Query::Lexical(lexical) => {
                lexical.validate().map_err(StoreError::Invalid)?;
                if lexical.is_empty() {
                    return Ok(Vec::new());
                }
                let sparse =
                    qdrant_edge::SparseVector::new(lexical.indices.clone(), lexical.values.clone())
                        .map_err(|e| StoreError::Invalid(format!("lexical query: {e}")))?;
                (VectorInternal::Sparse(sparse), LEXICAL_VECTOR, None)
            }
        };
        let request = QueryRequest {
            prefetches: Vec::new(),
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                query: vector,
                using: Some(using.to_owned()),
            }))),
            filter: edge_filter(filter)?,
            score_threshold: None,
            limit,
            offset: 0,
            params,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(true),
        };
        let hits = shard
            .shard
            .query(request)
            .map_err(|e| shard.read_error("search", e))?;
        hits.into_iter()
            .map(
                |ScoredPoint {
                     id, score, payload, ..
                 }| {
                    Ok(Hit {
                        id: uuid_of(&id)?,
                        score,
                        payload: payload_of(payload),
                    })
                },
            )
            .collect()
    }

    fn count(&self, collection: Collection, filter: &Filter) -> Result<u64, StoreError> {
        self.shard(collection).count(edge_filter(filter)?)
    }

    fn optimize(&self) -> Result<(), StoreError> {
        let _shared = self.gate.read().unwrap_or_else(|e| e.into_inner());
        self.before_write("optimize")?;
        for shard in &self.shards {
            shard
                .shard
                .optimize()
                .map_err(|e| shard.error("optimize", e))?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        if self.is_reader() {
            return Ok(());
        }
        for shard in &self.shards {
            shard.shard.flush().map_err(|e| shard.error("flush", e))?;
        }
        Ok(())
    }

    fn publish(&self) -> Result<(), StoreError> {
        self.publish_now()
    }
}
