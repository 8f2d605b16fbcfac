//! The server backend: a Qdrant server over gRPC, through `qdrant-client`.
//!
//! [`ServerStore::connect`] checks that the server answers, then creates what is missing: the
//! collections (a dense vector [`DENSE_VECTOR`], [`DENSE_DIM`] wide, cosine, and a sparse
//! vector [`LEXICAL_VECTOR`] with the IDF modifier, as in the embedded store) and their
//! payload indexes.
//!
//! The client is async and the [`EstateStore`] trait is not, so the store owns a small tokio
//! runtime: each call is spawned onto it and the calling thread waits on a channel. That works
//! from a plain thread, from `tokio::task::spawn_blocking`, and from any other runtime's
//! blocking context (no nested `block_on`). Every write waits for the server to apply it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use qdrant_client::qdrant::{
    point_id::PointIdOptions, vector_output, Condition as QCondition, CountPointsBuilder,
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance,
    FieldType, Filter as QFilter, GetPointsBuilder, Modifier, PointId, PointStruct, PointsIdsList,
    Query as QQuery, QueryPointsBuilder, Range, RetrievedPoint, ScoredPoint, ScrollPointsBuilder,
    SearchParamsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpsertPointsBuilder, Value as QValue, Vector, VectorInput, VectorParamsBuilder,
    VectorsConfigBuilder, VectorsOutput, VectorsSelector,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    Collection, Condition, EstateStore, Filter, Hit, Point, Query, StoreError, StoredPoint,
    DENSE_DIM, DENSE_VECTOR, LEXICAL_VECTOR, UPSERT_BATCH,
};

/// Points read per page when scanning.
const SCAN_PAGE: u32 = 1_000;

/// HNSW beam width of a dense search, as in the embedded store's default.
const HNSW_EF: u64 = 128;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Qdrant server holding the collections.
pub struct ServerStore {
    url: String,
    /// Put before every collection name; empty for the real estate.
    prefix: String,
    client: Qdrant,
    /// Runs the client's futures; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ServerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's config holds the API key: never print it.
        f.debug_struct("ServerStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Drop for ServerStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code; this does not block.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl ServerStore {
    /// Connects to the server at `url` (gRPC, such as `http://localhost:6334`) and creates the
    /// collections and payload indexes that are missing.
    pub fn connect(url: &str, api_key: Option<&str>) -> Result<Self, StoreError> {
        Self::connect_with_prefix(url, api_key, "")
    }

    /// Like [`ServerStore::connect`], with `prefix` put before every collection name
    /// (`<prefix>aws_estate`, ...): several estates, or a test suite, can then share one server
    /// without touching each other's collections.
    pub fn connect_with_prefix(
        url: &str,
        api_key: Option<&str>,
        prefix: &str,
    ) -> Result<Self, StoreError> {
        let server_error = |message: String| StoreError::Server {
            url: url.to_owned(),
            message,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cloudops-qdrant")
            .enable_all()
            .build()
            .map_err(|e| server_error(format!("cannot start the client runtime: {e}")))?;
        let built = {
            // The channel pool may spawn onto the current runtime.
            let _entered = runtime.enter();
            Qdrant::from_url(url)
                .api_key(api_key)
                .timeout(REQUEST_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .skip_compatibility_check()
                .build()
        };
        let client = match built {
            Ok(client) => client,
            Err(e) => {
                // As in `Drop`: never block while shutting the runtime down.
                runtime.shutdown_background();
                return Err(server_error(format!("invalid server address: {e}")));
            }
        };
        let store = Self {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            client,
            runtime: Some(runtime),
        };
        store
            .run(|client| async move { client.health_check().await })
            .map_err(|e| {
                server_error(format!(
                    "cannot reach the server: {e}; check the URL (gRPC, usually port 6334), \
                     the API key, and that the server is running"
                ))
            })?;
        for collection in Collection::ALL {
            store.ensure_collection(collection)?;
        }
        Ok(store)
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server-side name of `collection`.
    pub fn name(&self, collection: Collection) -> String {
        format!("{}{}", self.prefix, collection.name())
    }

    /// Deletes this store's collections from the server (those missing are skipped). The
    /// store is unusable afterwards until connected again. For tests and benches, which share
    /// one server and must not leave their collections behind.
    pub fn delete_collections(&self) -> Result<(), StoreError> {
        for collection in Collection::ALL {
            let name = self.name(collection);
            self.run(|client| async move { client.delete_collection(name).await })
                .map_err(|e| self.error("delete collection", collection, e))?;
        }
        Ok(())
    }

    /// Runs one client call on the store's runtime and waits for it.
    fn run<T, F, Fut>(&self, call: F) -> Result<T, QdrantError>
    where
        F: FnOnce(Qdrant) -> Fut,
        Fut: Future<Output = Result<T, QdrantError>> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("runtime lives until drop");
        let (tx, rx) = mpsc::sync_channel(1);
        let future = call(self.client.clone());
        runtime.spawn(async move {
            // The receiver only goes away if the caller did.
            let _ = tx.send(future.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(QdrantError::Io(std::io::Error::other(
                "the client runtime stopped before answering",
            )))
        })
    }

    fn error(
        &self,
        operation: &'static str,
        collection: Collection,
        err: QdrantError,
    ) -> StoreError {
        StoreError::Operation {
            operation,
            collection: collection.name(),
            message: format!(
                "{err} (server {}, collection {})",
                self.url,
                self.name(collection)
            ),
        }
    }

    fn ensure_collection(&self, collection: Collection) -> Result<(), StoreError> {
        let name = self.name(collection);
        let exists = self
            .run(|client| {
                let name = name.clone();
                async move { client.collection_exists(name).await }
            })
            .map_err(|e| self.error("create collection", collection, e))?;
        if !exists {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(
                DENSE_VECTOR,
                VectorParamsBuilder::new(DENSE_DIM as u64, Distance::Cosine),
            );
            let mut sparse = SparseVectorsConfigBuilder::default();
            sparse.add_named_vector_params(
                LEXICAL_VECTOR,
                SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
            );
            let request = CreateCollectionBuilder::new(name.clone())
                .vectors_config(vectors)
                .sparse_vectors_config(sparse);
            let created = self.run(|client| async move { client.create_collection(request).await });
            if let Err(err) = created {
                // Another client may have created it meanwhile.
                let exists_now = self
                    .run(|client| {
                        let name = name.clone();
                        async move { client.collection_exists(name).await }
                    })
                    .unwrap_or(false);
                if !exists_now {
                    return Err(self.error("create collection", collection, err));
                }
            }
        }
        let info = self
            .run(|client| {
                let name = name.clone();
                async move { client.collection_info(name).await }
            })
            .map_err(|e| self.error("create payload index", collection, e))?;
        let schema = info.result.map(|i| i.payload_schema).unwrap_or_default();
        for &field in collection.indexed_fields() {
            if schema.contains_key(field) {
                continue;
            }
            let kind = if collection.integer_fields().contains(&field) {
                FieldType::Integer
            } else {
                FieldType::Keyword
            };
            let request =
                CreateFieldIndexCollectionBuilder::new(name.clone(), field, kind).wait(true);
            self.run(|client| async move { client.create_field_index(request).await })
                .map_err(|e| StoreError::Operation {
                    operation: "create payload index",
                    collection: collection.name(),
                    message: format!("field `{field}`: {e} (server {})", self.url),
                })?;
        }
        Ok(())
    }

    fn count_filtered(
        &self,
        collection: Collection,
        filter: Option<QFilter>,
    ) -> Result<u64, StoreError> {
        let mut request = CountPointsBuilder::new(self.name(collection)).exact(true);
        if let Some(filter) = filter {
            request = request.filter(filter);
        }
        let response = self
            .run(|client| async move { client.count(request).await })
            .map_err(|e| self.error("count", collection, e))?;
        Ok(response.result.map(|r| r.count).unwrap_or(0))
    }
}

fn point_id(id: Uuid) -> PointId {
    PointId::from(id.to_string())
}

fn uuid_of(id: Option<PointId>) -> Result<Uuid, StoreError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(text)) => Uuid::parse_str(&text).map_err(|e| {
            StoreError::Invalid(format!(
                "the server returned a malformed point id `{text}`: {e}"
            ))
        }),
        Some(PointIdOptions::Num(n)) => Err(StoreError::Invalid(format!(
            "the server holds a point with numeric id {n}; cloudops writes only UUIDs"
        ))),
        None => Err(StoreError::Invalid(
            "the server returned a point without an id".to_owned(),
        )),
    }
}

/// Converts a filter; `None` when it has no conditions.
fn server_filter(filter: &Filter) -> Option<QFilter> {
    if filter.is_all() {
        return None;
    }
    Some(QFilter {
        must: filter.must.iter().map(server_condition).collect(),
        must_not: filter.must_not.iter().map(server_condition).collect(),
        ..QFilter::default()
    })
}

fn server_condition(condition: &Condition) -> QCondition {
    match condition {
        // A keyword list matches when any of its values is one of `values`.
        Condition::AnyOf { field, values } => QCondition::matches(field.clone(), values.clone()),
        Condition::Below { field, bound } => QCondition::range(
            field.clone(),
            Range {
                lt: Some(*bound as f64),
                ..Range::default()
            },
        ),
        Condition::Ids(ids) => QCondition::has_id(ids.iter().copied().map(point_id)),
    }
}

fn server_point(point: Point) -> Result<PointStruct, StoreError> {
    point.validate()?;
    let Point {
        id,
        dense,
        lexical,
        payload,
    } = point;
    let mut vectors: HashMap<String, Vector> =
        HashMap::from([(DENSE_VECTOR.to_owned(), Vector::new_dense(dense))]);
    if !lexical.is_empty() {
        vectors.insert(
            LEXICAL_VECTOR.to_owned(),
            Vector::new_sparse(lexical.indices, lexical.values),
        );
    }
    Ok(PointStruct::new(
        point_id(id),
        vectors,
        Payload::from(payload),
    ))
}

fn payload_of(payload: HashMap<String, QValue>) -> Map<String, Value> {
    Map::from(Payload::from(payload))
}

fn dense_of(vectors: Option<VectorsOutput>) -> Option<Vec<f32>> {
    match vectors?.get_vector_by_name(DENSE_VECTOR)? {
        vector_output::Vector::Dense(dense) => Some(dense.data),
        _ => None,
    }
}

fn stored_point(point: RetrievedPoint, with_dense: bool) -> Result<StoredPoint, StoreError> {
    Ok(StoredPoint {
        id: uuid_of(point.id)?,
        dense: if with_dense {
            dense_of(point.vectors)
        } else {
            None
        },
        payload: payload_of(point.payload),
    })
}

impl EstateStore for ServerStore {
    fn upsert(&self, collection: Collection, points: Vec<Point>) -> Result<(), StoreError> {
        let mut points = points.into_iter().peekable();
        while points.peek().is_some() {
            let batch = points
                .by_ref()
                .take(UPSERT_BATCH)
                .map(server_point)
                .collect::<Result<Vec<_>, _>>()?;
            let request = UpsertPointsBuilder::new(self.name(collection), batch).wait(true);
            self.run(|client| async move { client.upsert_points(request).await })
                .map_err(|e| self.error("upsert", collection, e))?;
        }
        Ok(())
    }

    fn delete(&self, collection: Collection, ids: &[Uuid]) -> Result<(), StoreError> {
        for chunk in ids.chunks(UPSERT_BATCH * 10) {
            let list = PointsIdsList {
                ids: chunk.iter().copied().map(point_id).collect(),
            };
            let request = DeletePointsBuilder::new(self.name(collection))
                .points(list)
                .wait(true);
            self.run(|client| async move { client.delete_points(request).await })
                .map_err(|e| self.error("delete", collection, e))?;
        }
        Ok(())
    }

    fn delete_where(&self, collection: Collection, filter: &Filter) -> Result<u64, StoreError> {
        let server = server_filter(filter).unwrap_or_default();
        let matching = self.count_filtered(collection, Some(server.clone()))?;
        if matching == 0 {
            return Ok(0);
        }
        let request = DeletePointsBuilder::new(self.name(collection))
            .points(server)
            .wait(true);
        self.run(|client| async move { client.delete_points(request).await })
            .map_err(|e| self.error("delete", collection, e))?;
        Ok(matching)
    }

    fn retrieve(
        &self,
        collection: Collection,
        ids: &[Uuid],
        with_dense: bool,
    ) -> Result<Vec<StoredPoint>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = GetPointsBuilder::new(
            self.name(collection),
            ids.iter().copied().map(point_id).collect::<Vec<_>>(),
        )
        .with_payload(true);
        request = if with_dense {
            request.with_vectors(VectorsSelector {
                names: vec![DENSE_VECTOR.to_owned()],
            })
        } else {
            request.with_vectors(false)
        };
        let response = self
            .run(|client| async move { client.get_points(request).await })
            .map_err(|e| self.error("retrieve", collection, e))?;
        response
            .result
            .into_iter()
            .map(|p| stored_point(p, with_dense))
            .collect()
    }

    fn scan(
        &self,
        collection: Collection,
        filter: &Filter,
    ) -> Result<Vec<StoredPoint>, StoreError> {
        let server = server_filter(filter);
        let mut out = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(self.name(collection))
                .limit(SCAN_PAGE)
                .with_payload(true)
                .with_vectors(false);
            if let Some(filter) = &server {
                request = request.filter(filter.clone());
            }
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let response = self
                .run(|client| async move { client.scroll(request).await })
                .map_err(|e| self.error("scan", collection, e))?;
            for point in response.result {
                out.push(stored_point(point, false)?);
            }
            match response.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        out.sort_by_key(|p| p.id);
        Ok(out)
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
        let mut request = QueryPointsBuilder::new(self.name(collection))
            .limit(limit as u64)
            .with_payload(true);
        request = match query {
            Query::Dense(dense) => {
                if dense.len() != DENSE_DIM {
                    return Err(StoreError::Invalid(format!(
                        "dense query has {} dimensions, expected {DENSE_DIM}",
                        dense.len()
                    )));
                }
                request
                    .query(QQuery::new_nearest(VectorInput::new_dense(dense.clone())))
                    .using(DENSE_VECTOR)
                    .params(SearchParamsBuilder::default().hnsw_ef(HNSW_EF.max(limit as u64)))
            }
            Query::Lexical(lexical) => {
                lexical.validate().map_err(StoreError::Invalid)?;
                if lexical.is_empty() {
                    return Ok(Vec::new());
                }
                request
                    .query(QQuery::new_nearest(VectorInput::new_sparse(
                        lexical.indices.clone(),
                        lexical.values.clone(),
                    )))
                    .using(LEXICAL_VECTOR)
            }
        };
        if let Some(filter) = server_filter(filter) {
            request = request.filter(filter);
        }
        let response = self
            .run(|client| async move { client.query(request).await })
            .map_err(|e| self.error("search", collection, e))?;
        response
            .result
            .into_iter()
            .map(
                |ScoredPoint {
                     id, payload, score, ..
                 }| {
                    Ok(Hit {
                        id: uuid_of(id)?,
                        score,
                        payload: payload_of(payload),
                    })
                },
            )
            .collect()
    }

    fn count(&self, collection: Collection, filter: &Filter) -> Result<u64, StoreError> {
        self.count_filtered(collection, server_filter(filter))
    }

    fn optimize(&self) -> Result<(), StoreError> {
        // The server builds its indexes in the background.
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every write waited for the server (`wait: true`); the server owns durability.
        Ok(())
    }
}
