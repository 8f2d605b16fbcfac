//! The resource explorer: the same query language as `cloudops search`, with filter chips,
//! and one resource's detail (metadata, navigable relations, allowed and denied actions,
//! constraints, last seen).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cloudops_host::estate::{utc, Record};
use cloudops_host::search::{self, SearchRequest, Summary};
use cloudops_host::store::{Collection, Filter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tauri::State;

use crate::error::{CommandError, CommandResult};
use crate::state::AppState;

/// Results of a query with words in it: the best ones are what matters.
const RANKED_LIMIT: usize = 50;
/// Results of a filter-only query (chips, `env=prod`, "buckets in us-east-1", an empty box):
/// every match, up to this many; the list is virtualised and paged ([`explore_rows`]).
const LISTING_LIMIT: usize = 100_000;
/// Rows sent with an answer. The list asks for the rest as it scrolls to them
/// ([`explore_rows`]): a listing of 100k never crosses IPC whole.
const FIRST_ROWS: usize = 100;
/// The most rows one [`explore_rows`] call returns.
const MAX_PAGE: usize = 1_000;

/// The newest search's results, kept for [`explore_rows`]: only the newest, since the list
/// shows only that one.
#[derive(Default)]
pub struct Listing(Mutex<Option<(u64, Arc<Vec<Summary>>)>>);

impl Listing {
    fn keep(&self, rows: Vec<Summary>) -> u64 {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let id = slot.as_ref().map_or(1, |(id, _)| id + 1);
        *slot = Some((id, Arc::new(rows)));
        id
    }

    fn rows(&self, id: u64) -> Option<Arc<Vec<Summary>>> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|(kept, _)| *kept == id)
            .map(|(_, rows)| rows.clone())
    }
}

/// What the explorer asks for: the query box and the chips.
#[derive(Debug, Default, Deserialize)]
pub struct ExploreRequest {
    /// The query, in `cloudops search`'s language.
    #[serde(default)]
    pub query: String,
    /// Account-id chips.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Region chips.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Resource-type chips.
    #[serde(default)]
    pub types: Vec<String>,
}

/// The answer to an [`ExploreRequest`].
#[derive(Debug, Serialize)]
pub struct Explored {
    /// How the query was read, for the chips the query itself implies.
    pub parsed: Value,
    /// Names these results for [`explore_rows`].
    pub listing: u64,
    /// How many results there are.
    pub total: usize,
    /// The first results, best first: plain fields only, nothing unsealed (the detail
    /// unseals one record).
    pub rows: Vec<Summary>,
    /// How long the host took (parse, embed, search, decode), in milliseconds.
    pub took_ms: f64,
}

/// Searches the estate.
#[tauri::command]
pub async fn explore(
    state: State<'_, Arc<AppState>>,
    request: ExploreRequest,
) -> CommandResult<Explored> {
    let state = state.inner().clone();
    // The store and the model block: keep them off the async runtime.
    tokio::task::spawn_blocking(move || explore_blocking(&state, request))
        .await
        .map_err(CommandError::host)?
}

fn explore_blocking(state: &AppState, request: ExploreRequest) -> CommandResult<Explored> {
    let reader = state.reader()?;
    let started = Instant::now();
    // Words to match rank the best few; a query of filters only ("buckets in us-east-1",
    // `env=prod`, an empty box) lists everything it matches.
    let ranked = !search::query::parse(&request.query, &reader.accounts)
        .text
        .is_empty();
    let results = search::summaries(
        &reader.estate,
        &reader.accounts,
        &SearchRequest {
            query: request.query,
            accounts: request.accounts,
            regions: request.regions,
            types: request.types,
            limit: if ranked { RANKED_LIMIT } else { LISTING_LIMIT },
        },
    )
    .map_err(CommandError::host)?;
    let took_ms = started.elapsed().as_secs_f64() * 1e3;
    let p = &results.parsed;
    let total = results.hits.len();
    let rows = results.hits[..total.min(FIRST_ROWS)].to_vec();
    Ok(Explored {
        parsed: serde_json::json!({
            "text": p.text, "tags": p.tags, "accounts": p.accounts, "regions": p.regions,
            "services": p.services, "types": p.types,
        }),
        listing: state.listing.keep(results.hits),
        total,
        rows,
        took_ms,
    })
}

/// Rows `offset..offset + count` (at most [`MAX_PAGE`]) of the results `listing` names.
#[tauri::command]
pub fn explore_rows(
    state: State<'_, Arc<AppState>>,
    listing: u64,
    offset: usize,
    count: usize,
) -> CommandResult<Vec<Summary>> {
    let rows = state.listing.rows(listing).ok_or_else(|| {
        CommandError::NotFound("a newer search replaced these results: search again".into())
    })?;
    let start = offset.min(rows.len());
    let end = start.saturating_add(count.min(MAX_PAGE)).min(rows.len());
    Ok(rows[start..end].to_vec())
}

/// A relation, with the related resource when the estate holds it.
#[derive(Debug, Serialize)]
pub struct RelationView {
    /// `subnet`, `vpc`, `volume`, ...
    pub kind: String,
    /// The other resource's ARN.
    pub target_arn: String,
    /// Its point id, when it is in the estate (the detail panel links to it).
    pub point_id: Option<String>,
    /// Its name, when it is in the estate.
    pub name: Option<String>,
}

/// One resource in full.
#[derive(Debug, Serialize)]
pub struct Detail {
    /// The point id.
    pub point_id: String,
    /// The record: resource, service, account name, permissions, constraints, principal.
    pub record: Record,
    /// Tags as a map.
    pub tags: BTreeMap<String, String>,
    /// Relations, resolved where possible.
    pub relations: Vec<RelationView>,
    /// When a sync last saw it (UTC), if known.
    pub last_seen: Option<String>,
    /// Parts kept from an earlier read, in words (`tags since 2026-12-06 01:30 UTC`).
    pub stale: Vec<String>,
}

/// One resource's detail.
#[tauri::command]
pub async fn resource_detail(
    state: State<'_, Arc<AppState>>,
    point_id: String,
) -> CommandResult<Detail> {
    let state = state.inner().clone();
    tokio::task::spawn_blocking(move || detail_blocking(&state, &point_id))
        .await
        .map_err(CommandError::host)?
}

fn detail_blocking(state: &AppState, point_id: &str) -> CommandResult<Detail> {
    let id = point_id
        .parse()
        .map_err(|e| CommandError::Invalid(format!("`{point_id}` is not a point id: {e}")))?;
    let reader = state.reader()?;
    let estate = &reader.estate;
    let not_found = || {
        CommandError::NotFound(format!(
            "no resource {point_id} in the estate any more: a sync removed it; search again"
        ))
    };
    let record = estate
        .get(&[id])
        .map_err(CommandError::host)?
        .pop()
        .ok_or_else(not_found)?;
    let point = estate
        .store()
        .retrieve(Collection::Estate, &[id], false)
        .map_err(CommandError::host)?
        .pop()
        .ok_or_else(not_found)?;
    let last_seen = point
        .payload
        .get("synced_at")
        .and_then(Value::as_i64)
        .map(utc);
    let relations = record
        .resource
        .relations
        .iter()
        .map(|rel| {
            let found = resolve_arn(&reader.estate, &record, &rel.target_arn);
            RelationView {
                kind: rel.kind.clone(),
                target_arn: rel.target_arn.clone(),
                point_id: found.as_ref().map(|(id, _)| id.clone()),
                name: found.map(|(_, name)| name),
            }
        })
        .collect();
    Ok(Detail {
        point_id: point_id.to_owned(),
        tags: record
            .resource
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        relations,
        last_seen,
        stale: record.stale().iter().map(ToString::to_string).collect(),
        record,
    })
}

/// Finds the resource an ARN names among the records of its account and region, by the
/// identifier at the ARN's end (`subnet/subnet-0a1b` → `subnet-0a1b`, `db:pg-main1` →
/// `pg-main1`). ARNs are sealed in the store; identifiers are not.
fn resolve_arn(
    estate: &cloudops_host::estate::Estate,
    from: &Record,
    arn: &str,
) -> Option<(String, String)> {
    let (region, account, identifier) = arn_parts(arn)?;
    let account = if account.is_empty() {
        from.resource.account_id.as_str()
    } else {
        account
    };
    let mut filter = Filter::all()
        .eq("account_id", account)
        .eq("identifier", identifier);
    if !region.is_empty() {
        filter = filter.eq("region", region);
    }
    let points = estate.store().scan(Collection::Estate, &filter).ok()?;
    let point = points.first()?;
    let plain = cloudops_host::estate::Estate::plain(point.id, &point.payload).ok()?;
    Some((point.id.to_string(), plain.name.to_owned()))
}

/// An ARN's region, account and the identifier at its end (empty region or account for
/// global resources such as S3 buckets).
fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, _, region, account, rest] = parts.as_slice() else {
        return None;
    };
    let identifier = rest.rsplit(['/', ':']).next().filter(|i| !i.is_empty())?;
    Some((region, account, identifier))
}

#[cfg(test)]
mod tests {
    use super::arn_parts;

    #[test]
    fn arns_give_their_region_account_and_identifier() {
        assert_eq!(
            arn_parts("arn:aws:ec2:us-west-2:111111111111:subnet/subnet-0a1b"),
            Some(("us-west-2", "111111111111", "subnet-0a1b"))
        );
        assert_eq!(
            arn_parts("arn:aws:rds:us-west-2:111111111111:db:pg-instance-main1"),
            Some(("us-west-2", "111111111111", "pg-instance-main1"))
        );
        assert_eq!(
            arn_parts("arn:aws:s3:::ledger-eu"),
            Some(("", "", "ledger-eu"))
        );
        assert_eq!(arn_parts("not an arn"), None);
    }
}
