//! The local vector store: where scanned resources and chat history live, and the planner's
//! playbook index.
//!
//! One [`EstateStore`] trait, two backends: [`edge::EdgeStore`] (embedded Qdrant through
//! `qdrant-edge`, files under the data dir; the default) and [`server::ServerStore`] (a Qdrant
//! server through `qdrant-client`, for estates shared between machines). The trait owns its
//! types because the two Qdrant crates share none.
//!
//! The store knows nothing of AWS: it keeps points (a dense vector, a sparse lexical vector
//! and a JSON payload) and filters on payload fields. `crate::estate` maps resources to
//! points and seals what is sensitive before anything reaches a backend.
//!
//! Calls block. The embedded backend is synchronous by nature; the server backend drives its
//! own runtime. From async code call the store inside `tokio::task::spawn_blocking`.
//!
//! Open a store with [`open`]:
//!
//! ```no_run
//! use cloudops_estate::store::{self, Collection, Filter, Location};
//!
//! let store = store::open(&Location::Embedded("/tmp/cloudops-store".into()))?;
//! let prod = store.count(Collection::Estate, &Filter::all().eq("tag_pairs", "env=prod"))?;
//! # Ok::<(), store::StoreError>(())
//! ```

pub mod disk;
pub mod edge;
pub mod published;
pub mod server;

/// Sealing lives in [`crate::seal`]; it is reachable here too because the store's callers
/// seal what they write.
pub use cloudops_seal as seal;

use std::path::PathBuf;

use serde_json::{Map, Value};
use uuid::Uuid;

/// Width of the dense vectors (all-MiniLM-L6-v2).
pub const DENSE_DIM: usize = 384;

/// Name of the dense vector in both backends.
pub const DENSE_VECTOR: &str = "dense";

/// Name of the sparse (lexical, IDF-weighted) vector in both backends.
pub const LEXICAL_VECTOR: &str = "lexical";

/// Points are written in batches of this many.
pub const UPSERT_BATCH: usize = 100;

/// The collections cloudops keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Scanned resources, one point per resource.
    Estate,
    /// Chat turns.
    ChatHistory,
    /// The planner's playbook index: one point per playbook text (description, utterances).
    Playbooks,
}

impl Collection {
    /// Every collection, in creation order.
    pub const ALL: [Collection; 3] = [
        Collection::Estate,
        Collection::ChatHistory,
        Collection::Playbooks,
    ];

    /// The collection's name in Qdrant.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Estate => "aws_estate",
            Collection::ChatHistory => "chat_history",
            Collection::Playbooks => "playbooks",
        }
    }

    /// Payload fields that get an index (keyword unless named in [`Collection::integer_fields`]).
    pub fn indexed_fields(self) -> &'static [&'static str] {
        match self {
            Collection::Estate => &[
                "resource_type",
                "account_id",
                "region",
                "state",
                "service",
                "tag_keys",
                "tag_pairs",
                "synced_at",
            ],
            Collection::ChatHistory => &["session", "at"],
            Collection::Playbooks => &["playbook_id", "resource_types", "commit"],
        }
    }

    /// Indexed payload fields that hold integers (unix seconds).
    pub fn integer_fields(self) -> &'static [&'static str] {
        match self {
            Collection::Estate => &["synced_at"],
            Collection::ChatHistory => &["at"],
            Collection::Playbooks => &[],
        }
    }
}

pub use cloudops_core::lexical::SparseVector;

/// One stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Deterministic id; writing the same id again replaces the point.
    pub id: Uuid,
    /// Semantic vector, [`DENSE_DIM`] wide, L2-normalised.
    pub dense: Vec<f32>,
    /// Lexical vector (character n-grams of names and identifiers), scored with IDF.
    pub lexical: SparseVector,
    /// Plain, filterable fields plus sealed blobs (strings).
    pub payload: Map<String, Value>,
}

/// A point read back, with or without its vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    /// The point's id.
    pub id: Uuid,
    /// Its dense vector, when asked for.
    pub dense: Option<Vec<f32>>,
    /// Its payload.
    pub payload: Map<String, Value>,
}

impl Point {
    /// Checks what a backend would reject, naming the point: a dense vector of the wrong width
    /// or with non-finite values, or a malformed lexical vector.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.dense.len() != DENSE_DIM {
            return Err(StoreError::Invalid(format!(
                "point {}: dense vector has {} dimensions, expected {DENSE_DIM}",
                self.id,
                self.dense.len()
            )));
        }
        if self.dense.iter().any(|v| !v.is_finite()) {
            return Err(StoreError::Invalid(format!(
                "point {}: dense vector has a non-finite value",
                self.id
            )));
        }
        self.lexical
            .validate()
            .map_err(|message| StoreError::Invalid(format!("point {}: {message}", self.id)))
    }
}

/// A search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The point's id.
    pub id: Uuid,
    /// Backend score: cosine similarity for [`Query::Dense`], IDF-weighted dot product for
    /// [`Query::Lexical`]. Higher is better.
    pub score: f32,
    /// Its payload.
    pub payload: Map<String, Value>,
}

/// What to rank by.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Nearest dense vectors.
    Dense(Vec<f32>),
    /// Best sparse matches.
    Lexical(SparseVector),
}

/// A conjunction of conditions on payload fields.
///
/// Within one condition, any listed value matches; all conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Conditions, all of which must hold.
    pub must: Vec<Condition>,
    /// Conditions none of which may hold.
    pub must_not: Vec<Condition>,
}

/// One condition on a payload field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The (keyword or keyword-list) field equals one of the values.
    AnyOf {
        /// Payload field name.
        field: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// The integer field is below the bound.
    Below {
        /// Payload field name.
        field: String,
        /// Exclusive upper bound.
        bound: i64,
    },
    /// The point's id is one of these.
    Ids(Vec<Uuid>),
}

impl Filter {
    /// A filter with no conditions: everything matches.
    pub fn all() -> Self {
        Self::default()
    }

    /// Adds "`field` is one of `values`".
    pub fn any_of(
        mut self,
        field: &str,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.must.push(Condition::AnyOf {
            field: field.to_owned(),
            values: values.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Adds "`field` equals `value`".
    pub fn eq(self, field: &str, value: impl Into<String>) -> Self {
        self.any_of(field, [value.into()])
    }

    /// Adds "integer `field` < `bound`".
    pub fn below(mut self, field: &str, bound: i64) -> Self {
        self.must.push(Condition::Below {
            field: field.to_owned(),
            bound,
        });
        self
    }

    /// Adds "id is not one of `ids`".
    pub fn excluding_ids(mut self, ids: Vec<Uuid>) -> Self {
        self.must_not.push(Condition::Ids(ids));
        self
    }

    /// Adds "id is one of `ids`".
    pub fn with_ids(mut self, ids: Vec<Uuid>) -> Self {
        self.must.push(Condition::Ids(ids));
        self
    }

    /// True when the filter has no conditions.
    pub fn is_all(&self) -> bool {
        self.must.is_empty() && self.must_not.is_empty()
    }
}

/// Where the store lives. `Debug` redacts the API key.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// Embedded Qdrant in this directory.
    Embedded(PathBuf),
    /// A Qdrant server (gRPC URL such as `http://localhost:6334`), with an optional API key.
    Server {
        /// gRPC endpoint.
        url: String,
        /// API key, if the server wants one.
        api_key: Option<String>,
    },
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Embedded(dir) => f.debug_tuple("Embedded").field(dir).finish(),
            Location::Server { url, api_key } => f
                .debug_struct("Server")
                .field("url", url)
                .field("api_key", &api_key.as_ref().map(|_| "** redacted **"))
                .finish(),
        }
    }
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded store could not be opened or created.
    #[error("cannot open the local store at {path}: {message}")]
    Open {
        /// Store directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The Qdrant server could not be reached or refused the call.
    #[error("Qdrant server {url}: {message}")]
    Server {
        /// Server URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// An operation failed inside the backend.
    #[error("store {operation} on {collection} failed: {message}")]
    Operation {
        /// What was attempted (`upsert`, `search`, ...).
        operation: &'static str,
        /// Collection name.
        collection: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The caller passed something the store cannot keep.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The disk has too little room to write the store safely.
    #[error(
        "the disk is full: free {needed_mb} MB in {dir} (only {free_mb} MB free) and run the \
         command again"
    )]
    DiskFull {
        /// The directory that could not grow.
        dir: PathBuf,
        /// Megabytes free there.
        free_mb: u64,
        /// Megabytes wanted.
        needed_mb: u64,
    },
    /// The store lost data or cannot be read.
    #[error(
        "the local store at {path} is damaged: {message}. Run `cloudops store rebuild` to \
         re-sync into a fresh store (searches keep answering from the last good copy meanwhile)"
    )]
    Damaged {
        /// Store directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A write was attempted on a reader's view.
    #[error("the store was opened for reading only; {0} needs a writer (`cloudops sync`)")]
    ReadOnly(&'static str),
}

/// A vector store holding the estate and chat history.
///
/// Both backends pass the same contract suite (`host/estate/tests/store.rs`).
pub trait EstateStore: Send + Sync {
    /// Inserts or replaces points (by id), in batches of [`UPSERT_BATCH`]. A batch is written
    /// whole or not at all. Returns once every batch is in the write-ahead log: the points
    /// survive a crash of this process (embedded) or are acknowledged by the server. Surviving
    /// a power loss of the machine also needs [`EstateStore::flush`] on the embedded store.
    fn upsert(&self, collection: Collection, points: Vec<Point>) -> Result<(), StoreError>;

    /// Deletes points by id. Missing ids are ignored.
    fn delete(&self, collection: Collection, ids: &[Uuid]) -> Result<(), StoreError>;

    /// Deletes every point matching `filter`; returns how many were deleted.
    fn delete_where(&self, collection: Collection, filter: &Filter) -> Result<u64, StoreError>;

    /// Reads points by id (missing ids are skipped), with dense vectors when asked.
    fn retrieve(
        &self,
        collection: Collection,
        ids: &[Uuid],
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>, StoreError>;

    /// Every point matching `filter` (payload only), in id order.
    fn scan(&self, collection: Collection, filter: &Filter)
        -> Result<Vec<StoredPoint>, StoreError>;

    /// The ids of the points matching `filter`, in id order: [`EstateStore::scan`] without
    /// reading a payload, for callers that keep what they need of the payloads already.
    fn scan_ids(&self, collection: Collection, filter: &Filter) -> Result<Vec<Uuid>, StoreError> {
        Ok(self
            .scan(collection, filter)?
            .into_iter()
            .map(|p| p.id)
            .collect())
    }

    /// True when nothing can change what this store holds (a reader's copy of a published
    /// generation): what was read from it stays true, and may be kept.
    fn frozen(&self) -> bool {
        false
    }

    /// The best `limit` points for `query` among those matching `filter`, best first.
    fn search(
        &self,
        collection: Collection,
        query: &Query,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>, StoreError>;

    /// How many points match `filter`.
    fn count(&self, collection: Collection, filter: &Filter) -> Result<u64, StoreError>;

    /// Builds search indexes after bulk writes (HNSW for the embedded store). May take seconds.
    /// The server optimizes in the background; there this does nothing.
    fn optimize(&self) -> Result<(), StoreError>;

    /// Flushes everything to disk (the embedded store's segments and write-ahead log).
    fn flush(&self) -> Result<(), StoreError>;

    /// Makes what was written so far visible to readers as one consistent state: the embedded
    /// store publishes a new generation (see [`published`]); a writer also publishes when it is
    /// dropped. The server shows writes at once; there this does nothing.
    fn publish(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Opens the store at `location`: the embedded store (created on first use) or a connection to
/// a Qdrant server (collections and payload indexes created if missing).
pub fn open(location: &Location) -> Result<Box<dyn EstateStore>, StoreError> {
    match location {
        Location::Embedded(dir) => Ok(Box::new(edge::EdgeStore::open(dir)?)),
        Location::Server { url, api_key } => Ok(Box::new(server::ServerStore::connect(
            url,
            api_key.as_deref(),
        )?)),
    }
}

/// Opens the store for reading only: search, status, plan and the app. Never waits for a
/// writer and never writes to the store's directory (it may be read-only); the embedded store
/// is read from its last published generation (see [`edge`]).
pub fn open_reader(location: &Location) -> Result<Box<dyn EstateStore>, StoreError> {
    match location {
        Location::Embedded(dir) => Ok(Box::new(edge::EdgeStore::open_reader(dir)?)),
        Location::Server { url, api_key } => Ok(Box::new(server::ServerStore::connect(
            url,
            api_key.as_deref(),
        )?)),
    }
}

/// The deterministic id of a resource: UUIDv5 of `account/region/type/identifier`.
///
/// The type is part of it because identifiers are unique per type, not per account and
/// region: an RDS cluster and an RDS instance, or a bucket and a function, may share one.
pub fn resource_id(account_id: &str, region: &str, resource_type: &str, identifier: &str) -> Uuid {
    // A fixed namespace of our own so ids never collide with other UUIDv5 users.
    const NAMESPACE: Uuid = Uuid::from_u128(0x6c6f7564_6f70_5365_8000_657374617465);
    Uuid::new_v5(
        &NAMESPACE,
        format!("{account_id}/{region}/{resource_type}/{identifier}").as_bytes(),
    )
}
