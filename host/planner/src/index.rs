//! The playbook index: each playbook's title, description and utterances embedded with the
//! estate's model and kept in Qdrant (the store's `playbooks` collection), one point per
//! text, filtered by the resource types a playbook applies to and by the library's commit.

use std::collections::HashMap;
use std::sync::Arc;

use cloudops_core::lexical::SparseVector;
use cloudops_estate::embed::{text_hash, Embedder};
use cloudops_estate::store::{Collection, EstateStore, Filter, Point, Query};
use cloudops_playbook::{Library, Playbook};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::PlannerError;

/// Vectors by [`text_hash`], so a reload embeds only the texts that changed.
pub(crate) type VectorCache = HashMap<String, Arc<Vec<f32>>>;

/// The texts retrieval compares a prompt with, for one playbook.
pub(crate) fn texts(playbook: &Playbook) -> Vec<String> {
    let mut texts = vec![
        playbook.title.clone(),
        format!("{}. {}", playbook.title, playbook.description),
    ];
    texts.extend(playbook.utterances.iter().cloned());
    texts
}

/// Embeds every text of the library (reusing `cache`), returns the new cache.
pub(crate) fn embed_library(
    library: &Library,
    embedder: &Embedder,
    cache: &VectorCache,
) -> Result<VectorCache, PlannerError> {
    let mut out = VectorCache::new();
    let mut missing: Vec<(String, String)> = Vec::new();
    for playbook in library.playbooks() {
        for text in texts(playbook) {
            let hash = text_hash(&text);
            match cache.get(&hash) {
                Some(v) => {
                    out.insert(hash, v.clone());
                }
                None if !out.contains_key(&hash) => missing.push((hash, text)),
                None => {}
            }
        }
    }
    missing.sort();
    missing.dedup();
    let batch: Vec<String> = missing.iter().map(|(_, t)| t.clone()).collect();
    if !batch.is_empty() {
        let vectors = embedder.embed(&batch).map_err(PlannerError::Embed)?;
        for ((hash, _), vector) in missing.into_iter().zip(vectors) {
            out.insert(hash, Arc::new(vector));
        }
    }
    Ok(out)
}

/// Vectors saved by [`save_vectors`]; empty when the file is missing or unreadable (they
/// are only a cache: the texts are embedded again).
pub(crate) fn load_vectors(path: &std::path::Path) -> VectorCache {
    let Ok(bytes) = std::fs::read(path) else {
        return VectorCache::new();
    };
    let saved: HashMap<String, Vec<f32>> = serde_json::from_slice(&bytes).unwrap_or_default();
    saved
        .into_iter()
        .filter(|(_, v)| v.len() == cloudops_estate::store::DENSE_DIM)
        .map(|(k, v)| (k, Arc::new(v)))
        .collect()
}

/// Saves `vectors` at `path` as JSON, through a temporary file and a rename.
pub(crate) fn save_vectors(vectors: &VectorCache, path: &std::path::Path) -> std::io::Result<()> {
    let plain: HashMap<&String, &Vec<f32>> = vectors.iter().map(|(k, v)| (k, v.as_ref())).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(&plain).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

/// Writes the library's points for `commit` into the store.
pub(crate) fn write(
    store: &dyn EstateStore,
    library: &Library,
    commit: &str,
    vectors: &VectorCache,
) -> Result<usize, PlannerError> {
    let mut points = Vec::new();
    for playbook in library.playbooks() {
        for (i, text) in texts(playbook).into_iter().enumerate() {
            let vector = &vectors[&text_hash(&text)];
            let mut payload = Map::new();
            payload.insert("playbook_id".into(), json!(playbook.id));
            payload.insert("resource_types".into(), json!(playbook.applies_to));
            payload.insert("commit".into(), json!(commit));
            points.push(Point {
                id: point_id(commit, &playbook.id, i),
                dense: vector.as_ref().clone(),
                lexical: SparseVector::default(),
                payload,
            });
        }
    }
    let count = points.len();
    store
        .upsert(Collection::Playbooks, points)
        .map_err(PlannerError::Index)?;
    store.optimize().map_err(PlannerError::Index)?;
    Ok(count)
}

/// Removes every point of `commit`.
pub(crate) fn retire(store: &dyn EstateStore, commit: &str) -> Result<(), PlannerError> {
    store
        .delete_where(Collection::Playbooks, &Filter::all().eq("commit", commit))
        .map_err(PlannerError::Index)?;
    Ok(())
}

fn point_id(commit: &str, playbook: &str, text: usize) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x706c_6179_626f_5f6b_8000_696e_6465_7800);
    Uuid::new_v5(&NAMESPACE, format!("{commit}/{playbook}/{text}").as_bytes())
}

/// The best similarity of `vector` to each playbook's texts, among playbooks of `commit`
/// that apply to one of `types` (all of them when `types` is empty).
pub(crate) fn search(
    store: &dyn EstateStore,
    commit: &str,
    vector: &[f32],
    types: &[String],
    limit: usize,
) -> Result<Vec<(String, f32)>, PlannerError> {
    let mut filter = Filter::all().eq("commit", commit);
    if !types.is_empty() {
        filter = filter.any_of("resource_types", types.iter().cloned());
    }
    let hits = store
        .search(
            Collection::Playbooks,
            &Query::Dense(vector.to_vec()),
            &filter,
            limit,
        )
        .map_err(PlannerError::Index)?;
    let mut best: Vec<(String, f32)> = Vec::new();
    for hit in hits {
        let Some(Value::String(id)) = hit.payload.get("playbook_id") else {
            continue;
        };
        match best.iter_mut().find(|(b, _)| b == id) {
            Some((_, score)) => *score = score.max(hit.score),
            None => best.push((id.clone(), hit.score)),
        }
    }
    Ok(best)
}
