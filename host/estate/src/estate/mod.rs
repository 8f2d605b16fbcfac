//! The estate: scanned resources as the store keeps them.
//!
//! A [`Record`] is a resource with what the sync learned about it (service, account name,
//! IAM permissions, constraints). [`Estate`] turns records into store points and back:
//! filterable fields stay plain, everything sensitive (ARN, relations, metadata, IAM data)
//! is sealed with the point id as associated data, and a record whose content did not
//! change is neither re-embedded nor rewritten.
//!
//! A scanner that could not read a part of a resource (its tags, one setting) names it in
//! the reserved metadata key [`UNREAD`]. [`Estate::put`] then keeps the stored value of that
//! part and records in [`STALE`] since when it is stale, instead of overwriting a good value
//! with an empty one because one call was throttled: only a successful read changes a part.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::embed::{self, Embedder};
use crate::resource::Permissions;
use crate::resource::{Constraints, Relation, Resource, Tag};
use crate::seal::Sealer;
use crate::store::{resource_id, Collection, EstateStore, Filter, Point, StoreError, StoredPoint};
use cloudops_core::lexical;

/// A resource and what the sync learned about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The resource as its scanner reported it.
    pub resource: Resource,
    /// The plugin that found it (`ec2`, `rds`, ...).
    pub service: String,
    /// The account's name (profile or alias), for queries like "in production account".
    pub account_name: String,
    /// What the principal may do to it; `None` when IAM could not be asked.
    pub permissions: Option<Permissions>,
    /// What its state and the permissions allow.
    pub constraints: Constraints,
    /// The principal the permissions are for.
    pub principal: Option<String>,
}

/// The metadata key a scanner lists the parts it could not read under (the SDK's
/// `UNREAD`): `tags`, `name`, `relations`, `state` or a metadata key. Never stored.
pub const UNREAD: &str = "_unread";

/// The metadata key under which a stored record lists its stale parts: part → the unix time
/// the kept value was stored (it was read then), or `null` if it was never read.
pub const STALE: &str = "_stale";

/// A part of a record kept from an earlier read because the last read of it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stale {
    /// `tags`, `name`, `relations`, `state` or a metadata key.
    pub part: String,
    /// When the kept value was stored (unix seconds); `None` when it was never read.
    pub since: Option<i64>,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.since {
            Some(t) => write!(f, "{} since {}", self.part, utc(t)),
            None => write!(f, "{} never read", self.part),
        }
    }
}

impl Record {
    /// What the constraints allow of stop, start and delete, in that order; `None` when IAM
    /// could not be asked, so nothing is known. The CLI's and the app's "you may" column.
    pub fn may(&self) -> Option<Vec<&'static str>> {
        self.permissions.as_ref()?;
        let c = &self.constraints;
        Some(
            [
                (c.can_stop, "stop"),
                (c.can_start, "start"),
                (c.can_delete, "delete"),
            ]
            .into_iter()
            .filter_map(|(ok, verb)| ok.then_some(verb))
            .collect(),
        )
    }

    /// The parts kept from an earlier read because the last read failed, by name.
    pub fn stale(&self) -> Vec<Stale> {
        match self.resource.metadata.get(STALE) {
            Some(Value::Object(parts)) => parts
                .iter()
                .map(|(part, since)| Stale {
                    part: part.clone(),
                    since: since.as_i64(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The record's point id.
    pub fn id(&self) -> Uuid {
        let r = &self.resource;
        resource_id(&r.account_id, &r.region, &r.resource_type, &r.identifier)
    }
}

/// What [`Estate::unseen`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unseen {
    /// Records of the scope among the types that were listed completely.
    pub total: u64,
    /// Of those, the ones the scan did not see.
    pub stale: Vec<Uuid>,
}

/// What [`Estate::put`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PutStats {
    /// Records not in the store before.
    pub added: usize,
    /// Records whose content changed.
    pub updated: usize,
    /// Records left as they were.
    pub unchanged: usize,
    /// Records written with at least one part kept from an earlier read (see [`STALE`]).
    pub stale: usize,
    /// Texts sent to the embedding model.
    pub embedded: usize,
}

/// Why an estate operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EstateError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The embedding model failed.
    #[error(transparent)]
    Embed(#[from] embed::EmbedError),
    /// A stored record could not be unsealed or read.
    #[error("stored record {id} cannot be read: {message}")]
    Corrupt {
        /// The point id.
        id: Uuid,
        /// What went wrong.
        message: String,
    },
}

/// The sealed part of a record.
#[derive(Serialize, Deserialize)]
struct Sealed {
    arn: String,
    relations: Vec<Relation>,
    metadata: Map<String, Value>,
    permissions: Option<Permissions>,
    constraints: Constraints,
    principal: Option<String>,
}

/// Records in a store, sealed and embedded. Cheap to clone.
#[derive(Clone)]
pub struct Estate {
    store: Arc<dyn EstateStore>,
    embedder: Arc<Embedder>,
    sealer: Arc<Sealer>,
    /// Every record's plain fields, read once from a [frozen](EstateStore::frozen) store
    /// (see [`Estate::catalog`]). Shared by clones, as the store is.
    catalog: Arc<Mutex<Option<Arc<Catalog>>>>,
}

/// Each record's plain payload fields ([`PLAIN_FIELDS`]) by point id: what ranking a listing
/// of thousands reads, without reading (and parsing) thousands of whole payloads per query.
pub type Catalog = HashMap<Uuid, Map<String, Value>>;

/// The payload fields [`Estate::plain`] reads.
const PLAIN_FIELDS: [&str; 8] = [
    "resource_type",
    "name",
    "identifier",
    "account_id",
    "account_name",
    "region",
    "state",
    "tags",
];

impl Estate {
    /// The estate kept in `store`.
    pub fn new(store: Arc<dyn EstateStore>, embedder: Arc<Embedder>, sealer: Arc<Sealer>) -> Self {
        Self {
            store,
            embedder,
            sealer,
            catalog: Arc::default(),
        }
    }

    /// Every record's plain fields, when the store is [frozen](EstateStore::frozen): read
    /// whole on first use (one scan) and kept, since nothing can change them. `None` for a
    /// store that may change (a writer, a Qdrant server): read it per query.
    pub fn catalog(&self) -> Result<Option<Arc<Catalog>>, EstateError> {
        if !self.store.frozen() {
            return Ok(None);
        }
        let mut slot = self.catalog.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(catalog) = slot.as_ref() {
            return Ok(Some(catalog.clone()));
        }
        let catalog: Catalog = self
            .store
            .scan(Collection::Estate, &Filter::all())?
            .into_iter()
            .map(|point| {
                let mut payload = point.payload;
                payload.retain(|field, _| PLAIN_FIELDS.contains(&field.as_str()));
                (point.id, payload)
            })
            .collect();
        let catalog = Arc::new(catalog);
        *slot = Some(catalog.clone());
        Ok(Some(catalog))
    }

    /// The store underneath.
    pub fn store(&self) -> &dyn EstateStore {
        self.store.as_ref()
    }

    /// The embedding model.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// Writes `records`: new and changed ones are upserted; unchanged ones are skipped; a
    /// text already embedded (same text hash) reuses its stored vector. A part a record
    /// names in [`UNREAD`] keeps its stored value, marked [`STALE`].
    pub fn put(&self, records: Vec<Record>) -> Result<PutStats, EstateError> {
        let mut stats = PutStats::default();
        // The last record wins if a scan reported one twice.
        let mut by_id: HashMap<Uuid, Record> = HashMap::new();
        for record in records {
            by_id.insert(record.id(), record);
        }
        let ids: Vec<Uuid> = by_id.keys().copied().collect();
        let mut existing: HashMap<Uuid, StoredPoint> = HashMap::new();
        for chunk in ids.chunks(crate::store::UPSERT_BATCH * 10) {
            for point in self.store.retrieve(Collection::Estate, chunk, true)? {
                existing.insert(point.id, point);
            }
        }

        let now = unix_now();
        let mut pending = Vec::new();
        for (id, mut record) in by_id {
            // Unsealing costs: only a record with unread parts needs its stored values.
            let previous = existing
                .get(&id)
                .filter(|_| record.resource.metadata.contains_key(UNREAD))
                .and_then(|old| {
                    // A stored record that cannot be read has no value worth keeping.
                    let synced_at = old.payload.get("synced_at").and_then(Value::as_i64);
                    Some((self.decode(id, &old.payload).ok()?, synced_at))
                });
            keep_unread(&mut record, previous.as_ref().map(|(r, t)| (r, *t)), now);
            if record.resource.metadata.contains_key(STALE) {
                stats.stale += 1;
            }
            let text = embed::resource_text(&record.resource);
            let text_hash = embed::text_hash(&text);
            let content_hash = self.content_hash(&record, &text_hash);
            let old = existing.remove(&id);
            let reuse = match &old {
                Some(old) if str_field(&old.payload, "content_hash") == Some(&content_hash) => {
                    stats.unchanged += 1;
                    continue;
                }
                Some(old) => {
                    stats.updated += 1;
                    old.dense
                        .clone()
                        .filter(|_| str_field(&old.payload, "text_hash") == Some(&text_hash))
                }
                None => {
                    stats.added += 1;
                    None
                }
            };
            pending.push((id, record, text, text_hash, content_hash, reuse));
        }

        // Embed each distinct text once.
        let mut to_embed: Vec<String> = pending
            .iter()
            .filter(|p| p.5.is_none())
            .map(|p| p.2.clone())
            .collect();
        to_embed.sort();
        to_embed.dedup();
        let vectors: HashMap<String, Vec<f32>> = if to_embed.is_empty() {
            HashMap::new()
        } else {
            let embedded = self.embedder.embed(&to_embed)?;
            stats.embedded = to_embed.len();
            to_embed.into_iter().zip(embedded).collect()
        };

        let mut points = Vec::with_capacity(pending.len());
        for (id, record, text, text_hash, content_hash, reuse) in pending {
            let dense = match reuse {
                Some(v) => v,
                None => vectors[&text].clone(),
            };
            points.push(self.point(id, &record, dense, &text_hash, &content_hash, now)?);
        }
        self.store.upsert(Collection::Estate, points)?;
        Ok(stats)
    }

    /// The records of `(account, region, service)` that a scan did not see, leaving out the
    /// types in `unsure` (their listing was incomplete, so not seeing a record proves nothing).
    /// Call it only after a scan whose other types were complete.
    pub fn unseen(
        &self,
        account_id: &str,
        region: &str,
        service: &str,
        seen: &HashSet<Uuid>,
        unsure: &[String],
    ) -> Result<Unseen, EstateError> {
        let scope = Filter::all()
            .eq("account_id", account_id)
            .eq("region", region)
            .eq("service", service);
        let mut unseen = Unseen::default();
        for point in self.store.scan(Collection::Estate, &scope)? {
            let kind = point.payload.get("resource_type").and_then(Value::as_str);
            if kind.is_some_and(|k| unsure.iter().any(|u| u == k)) {
                continue;
            }
            unseen.total += 1;
            if !seen.contains(&point.id) {
                unseen.stale.push(point.id);
            }
        }
        Ok(unseen)
    }

    /// Deletes the records `ids` of `scope` (`account/region/service`, for the log); returns
    /// how many.
    pub fn remove(&self, scope: &str, ids: &[Uuid]) -> Result<u64, EstateError> {
        if !ids.is_empty() {
            tracing::info!(
                "{scope}: removing {} records the complete scan no longer saw",
                ids.len()
            );
            self.store.delete(Collection::Estate, ids)?;
        }
        Ok(ids.len() as u64)
    }

    /// Reads records by id (missing ids are skipped).
    pub fn get(&self, ids: &[Uuid]) -> Result<Vec<Record>, EstateError> {
        self.store
            .retrieve(Collection::Estate, ids, false)?
            .into_iter()
            .map(|p| self.decode(p.id, &p.payload))
            .collect()
    }

    /// Every record matching `filter`.
    pub fn list(&self, filter: &Filter) -> Result<Vec<Record>, EstateError> {
        self.store
            .scan(Collection::Estate, filter)?
            .into_iter()
            .map(|p| self.decode(p.id, &p.payload))
            .collect()
    }

    /// The plain fields of a stored payload, read in place without unsealing: what ranking
    /// needs, so a search unseals only the records it returns.
    pub fn plain(id: Uuid, payload: &Map<String, Value>) -> Result<Plain<'_>, EstateError> {
        let text = |field: &str| required_field(id, payload, field);
        Ok(Plain {
            resource_type: text("resource_type")?,
            name: text("name")?,
            identifier: text("identifier")?,
            account_id: text("account_id")?,
            account_name: text("account_name")?,
            region: text("region")?,
            state: str_field(payload, "state"),
            tags: match payload.get("tags") {
                Some(Value::Array(pairs)) => pairs,
                _ => &[],
            },
        })
    }

    /// Turns a stored payload back into a record, unsealing its sensitive part.
    pub fn decode(&self, id: Uuid, payload: &Map<String, Value>) -> Result<Record, EstateError> {
        let corrupt = |message: String| EstateError::Corrupt { id, message };
        let text = |field: &str| required_field(id, payload, field).map(str::to_owned);
        let plain = Self::plain(id, payload)?;
        let sealed = self
            .sealer
            .open(&text("sealed")?, id.as_bytes())
            .map_err(|e| corrupt(e.to_string()))?;
        let sealed: Sealed =
            serde_json::from_slice(&sealed).map_err(|e| corrupt(format!("sealed part: {e}")))?;
        let tags = plain
            .tags
            .iter()
            .filter_map(|pair| {
                Some(Tag {
                    key: pair.get(0)?.as_str()?.to_owned(),
                    value: pair.get(1)?.as_str()?.to_owned(),
                })
            })
            .collect();
        Ok(Record {
            resource: Resource {
                resource_type: plain.resource_type.to_owned(),
                identifier: plain.identifier.to_owned(),
                arn: sealed.arn,
                name: plain.name.to_owned(),
                account_id: plain.account_id.to_owned(),
                region: plain.region.to_owned(),
                state: plain.state.map(str::to_owned),
                tags,
                relations: sealed.relations,
                metadata: sealed.metadata,
            },
            service: text("service")?,
            account_name: plain.account_name.to_owned(),
            permissions: sealed.permissions,
            constraints: sealed.constraints,
            principal: sealed.principal,
        })
    }

    fn point(
        &self,
        id: Uuid,
        record: &Record,
        dense: Vec<f32>,
        text_hash: &str,
        content_hash: &str,
        now: i64,
    ) -> Result<Point, EstateError> {
        let r = &record.resource;
        let sealed = Sealed {
            arn: r.arn.clone(),
            relations: r.relations.clone(),
            metadata: r.metadata.clone(),
            permissions: record.permissions.clone(),
            constraints: record.constraints.clone(),
            principal: record.principal.clone(),
        };
        let sealed = serde_json::to_vec(&sealed).map_err(|e| EstateError::Corrupt {
            id,
            message: e.to_string(),
        })?;
        let payload = json!({
            "identifier": r.identifier,
            "name": r.name,
            "resource_type": r.resource_type,
            "service": record.service,
            "account_id": r.account_id,
            "account_name": record.account_name,
            "region": r.region,
            "state": r.state,
            // Tags in AWS's order, as pairs (a JSON object would lose duplicates' order).
            "tags": r.tags.iter().map(|t| [&t.key, &t.value]).collect::<Vec<_>>(),
            "tag_keys": r.tags.iter().map(|t| t.key.to_lowercase()).collect::<Vec<_>>(),
            "tag_pairs": r.tags.iter().map(|t| tag_pair(&t.key, &t.value)).collect::<Vec<_>>(),
            "iam": if record.permissions.is_some() { "known" } else { "unknown" },
            // Plain, so status can count stale records without unsealing them.
            "stale": record.stale().iter().map(|s| s.part.clone()).collect::<Vec<_>>(),
            "text_hash": text_hash,
            "content_hash": content_hash,
            "synced_at": now,
            "sealed": self.sealer.seal(&sealed, id.as_bytes()),
        });
        let Value::Object(payload) = payload else {
            unreachable!("json! of an object literal is an object")
        };
        Ok(Point {
            id,
            dense,
            lexical: lexical::features([r.name.as_str(), r.identifier.as_str()]),
            payload,
        })
    }

    /// A keyed fingerprint of everything stored for a record, so equal content can be
    /// recognised without storing the sensitive part in the clear.
    fn content_hash(&self, record: &Record, text_hash: &str) -> String {
        let canonical = serde_json::to_vec(&(record, text_hash)).unwrap_or_default();
        self.sealer.fingerprint(&canonical)
    }
}

/// A stored record's plain (unsealed) fields, borrowed from its payload ([`Estate::plain`]).
#[derive(Debug, Clone, Copy)]
pub struct Plain<'p> {
    /// The resource type (`rds_instance`).
    pub resource_type: &'p str,
    /// The resource's name.
    pub name: &'p str,
    /// Its identifier within the account and region.
    pub identifier: &'p str,
    /// The id of the account it is in.
    pub account_id: &'p str,
    /// The name of the account it is in.
    pub account_name: &'p str,
    /// Its region (empty for global resources).
    pub region: &'p str,
    /// Its state, if it has one (`available`, `stopped`).
    pub state: Option<&'p str>,
    tags: &'p [Value],
}

impl<'p> Plain<'p> {
    /// The values of its tags.
    pub fn tag_values(&self) -> impl Iterator<Item = &'p str> {
        self.tags.iter().filter_map(|pair| pair.get(1)?.as_str())
    }
}

/// The `tag_pairs` entry for a tag: lower-cased `key=value`, as queries write them.
pub fn tag_pair(key: &str, value: &str) -> String {
    format!("{}={}", key.to_lowercase(), value.to_lowercase())
}

fn str_field<'p>(payload: &'p Map<String, Value>, field: &str) -> Option<&'p str> {
    payload.get(field).and_then(Value::as_str)
}

/// A text field every stored record has; its absence means the point is corrupt.
fn required_field<'p>(
    id: Uuid,
    payload: &'p Map<String, Value>,
    field: &str,
) -> Result<&'p str, EstateError> {
    str_field(payload, field).ok_or_else(|| EstateError::Corrupt {
        id,
        message: format!("field `{field}` is missing"),
    })
}

/// Applies the scanner's [`UNREAD`] list: each part named there takes the value of
/// `previous` (the stored record and when it was stored) and is marked [`STALE`] since the
/// time that value was stored, or since a still earlier one if it was stale already. A part
/// never read before stays missing, marked `null`. Any [`STALE`] a scanner sent is dropped:
/// only the host says what is stale.
fn keep_unread(record: &mut Record, previous: Option<(&Record, Option<i64>)>, now: i64) {
    let meta = &mut record.resource.metadata;
    meta.remove(STALE);
    let unread: Vec<String> = match meta.remove(UNREAD) {
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .filter(|p| p != UNREAD && p != STALE)
            .collect(),
        _ => return,
    };
    if unread.is_empty() {
        return;
    }
    let old_stale: HashMap<String, Option<i64>> = previous
        .map(|(old, _)| old.stale().into_iter().map(|s| (s.part, s.since)).collect())
        .unwrap_or_default();
    let mut stale = Map::new();
    for part in unread {
        let since = match previous {
            None => None,
            Some((old, stored_at)) => {
                let r = &mut record.resource;
                let o = &old.resource;
                match part.as_str() {
                    "tags" => r.tags = o.tags.clone(),
                    "name" => r.name = o.name.clone(),
                    "relations" => r.relations = o.relations.clone(),
                    "state" => r.state = o.state.clone(),
                    key => match o.metadata.get(key) {
                        Some(v) => {
                            r.metadata.insert(key.to_owned(), v.clone());
                        }
                        None => {
                            r.metadata.remove(key);
                        }
                    },
                }
                match old_stale.get(&part) {
                    Some(since) => *since,
                    None => Some(stored_at.unwrap_or(now)),
                }
            }
        };
        stale.insert(part, since.map_or(Value::Null, Value::from));
    }
    record
        .resource
        .metadata
        .insert(STALE.to_owned(), Value::Object(stale));
}

/// A unix time as `2026-12-06 01:30 UTC`.
pub fn utc(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| format!("{t} s after 1970 (out of range)"))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tags: &[(&str, &str)], meta: Value) -> Record {
        let Value::Object(metadata) = meta else {
            panic!("metadata must be an object")
        };
        Record {
            resource: Resource {
                resource_type: "s3_bucket".into(),
                identifier: "data".into(),
                arn: "arn:aws:s3:::data".into(),
                name: "data".into(),
                account_id: "123456789012".into(),
                region: "eu-west-1".into(),
                state: None,
                tags: tags
                    .iter()
                    .map(|(k, v)| Tag {
                        key: (*k).into(),
                        value: (*v).into(),
                    })
                    .collect(),
                relations: Vec::new(),
                metadata,
            },
            service: "s3".into(),
            account_name: "prod".into(),
            permissions: None,
            constraints: Constraints::default(),
            principal: None,
        }
    }

    #[test]
    fn an_unread_part_keeps_its_stored_value_marked_stale_since_it_was_stored() {
        let old = record(&[("env", "production")], json!({"versioning": "Enabled"}));
        let mut new = record(
            &[],
            json!({"_unread": ["tags", "versioning"], "encryption": null}),
        );
        keep_unread(&mut new, Some((&old, Some(1_000))), 2_000);
        assert_eq!(new.resource.tags, old.resource.tags);
        assert_eq!(new.resource.metadata["versioning"], "Enabled");
        assert_eq!(new.resource.metadata["encryption"], Value::Null);
        assert!(!new.resource.metadata.contains_key(UNREAD));
        let stale: Vec<String> = new.stale().iter().map(ToString::to_string).collect();
        assert_eq!(
            stale,
            [
                "tags since 1970-01-01 00:16 UTC",
                "versioning since 1970-01-01 00:16 UTC"
            ]
        );

        // Failing again keeps the first time; a read that works clears it.
        let mut again = record(&[], json!({"_unread": ["tags"]}));
        keep_unread(&mut again, Some((&new, Some(2_000))), 3_000);
        assert_eq!(again.stale()[0].since, Some(1_000));
        assert_eq!(again.resource.tags, old.resource.tags);
        let mut read = record(&[("env", "staging")], json!({}));
        keep_unread(&mut read, Some((&again, Some(3_000))), 4_000);
        assert!(read.stale().is_empty());
        assert_eq!(read.resource.tags[0].value, "staging");
    }

    #[test]
    fn a_part_never_read_stays_missing_and_scanners_cannot_claim_staleness() {
        let mut new = record(&[], json!({"_unread": ["tags", 7], "_stale": {"state": 1}}));
        keep_unread(&mut new, None, 2_000);
        assert!(new.resource.tags.is_empty());
        assert_eq!(
            new.stale(),
            [Stale {
                part: "tags".into(),
                since: None
            }]
        );
        assert_eq!(new.stale()[0].to_string(), "tags never read");

        let mut forged = record(&[], json!({"_stale": {"tags": 1}}));
        keep_unread(&mut forged, None, 2_000);
        assert!(forged.stale().is_empty());
    }

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_796_520_600), "2026-12-06 01:30 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
