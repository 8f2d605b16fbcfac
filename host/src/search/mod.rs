//! Hybrid search of the local estate.
//!
//! A query is taken apart ([`query::parse`]) into hard filters (tags, account, region,
//! service, type), soft hints and free text. The free text is matched two ways under the
//! same filter: by meaning (the dense embedding) and by name (character n-grams of names
//! and identifiers, [`lexical`]). The two candidate lists are fused into one ranking:
//!
//! `score = 0.55·cosine + 0.45·coverage + 0.1·hints (+0.5 for an exact name)`
//!
//! where coverage is the share of the query's name features (words and trigrams) found in
//! the resource's name or identifier, so a query with no name in it is ranked by meaning
//! alone. A query that is all filters lists what matches, by name.

pub mod eval;
pub mod lexical;
pub mod query;

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use crate::estate::{tag_pair, Estate, EstateError, Record};
use crate::store::{Collection, Filter, Query};
pub use query::{AccountName, ParsedQuery};

/// How many candidates each of the two matchers contributes before fusion.
const CANDIDATES: usize = 50;
const DENSE_WEIGHT: f32 = 0.55;
const LEXICAL_WEIGHT: f32 = 0.45;
const HINT_BONUS: f32 = 0.1;
const EXACT_BONUS: f32 = 0.5;
/// Below this, a name match is noise (a shared trigram or two), not evidence.
const LEXICAL_FLOOR: f32 = 0.3;

/// A search request.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// What the user typed.
    pub query: String,
    /// Extra account ids to restrict to (`--account`), beyond those in the query.
    pub accounts: Vec<String>,
    /// Extra regions (`--region`).
    pub regions: Vec<String>,
    /// Extra resource types (`--type`).
    pub types: Vec<String>,
    /// How many results to return.
    pub limit: usize,
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    /// The point id.
    pub id: Uuid,
    /// The fused score (higher is better).
    pub score: f32,
    /// Cosine similarity of the query's meaning to the resource's.
    pub semantic: f32,
    /// Name match: the share of the query's name features in the resource's name, 0..1.
    pub lexical: f32,
    /// The resource and what the sync learned about it.
    pub record: Record,
}

/// The answer: the parsed query and the ranked hits.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// How the query was read.
    pub parsed: ParsedQuery,
    /// Best first.
    pub hits: Vec<SearchHit>,
}

/// Searches `estate`. `accounts` are the account names a query may use.
pub fn search(
    estate: &Estate,
    accounts: &[AccountName],
    request: &SearchRequest,
) -> Result<SearchResults, EstateError> {
    let mut parsed = query::parse(&request.query, accounts);
    for (list, extra) in [
        (&mut parsed.accounts, &request.accounts),
        (&mut parsed.regions, &request.regions),
        (&mut parsed.types, &request.types),
    ] {
        for value in extra {
            if !list.contains(value) {
                list.push(value.clone());
            }
        }
    }
    let filter = filter_of(&parsed);
    let limit = request.limit.max(1);
    let store = estate.store();

    if parsed.text.is_empty() {
        let mut records = estate.list(&filter)?;
        records.sort_by(|a, b| {
            hint_score(&parsed, b)
                .total_cmp(&hint_score(&parsed, a))
                .then_with(|| a.resource.name.cmp(&b.resource.name))
        });
        let hits = records
            .into_iter()
            .take(limit)
            .map(|record| SearchHit {
                id: record.id(),
                score: 1.0 + hint_score(&parsed, &record),
                semantic: 0.0,
                lexical: 0.0,
                record,
            })
            .collect();
        return Ok(SearchResults { parsed, hits });
    }

    let dense = estate.embedder().embed_query(&parsed.text)?;
    let by_meaning = store.search(
        Collection::Estate,
        &Query::Dense(dense),
        &filter,
        CANDIDATES.max(limit),
    )?;
    // Hint words ("production database") would match names by accident ("acme-prod-...").
    let name_text = parsed
        .text
        .split_whitespace()
        .filter(|w| !query::is_hint_word(w))
        .collect::<Vec<_>>()
        .join(" ");
    let by_name = if name_text.is_empty() {
        Vec::new()
    } else {
        store.search(
            Collection::Estate,
            &Query::Lexical(lexical::features([name_text.as_str()])),
            &filter,
            CANDIDATES.max(limit),
        )?
    };

    // The store's name search only proposes candidates; every candidate is then scored by
    // how much of the name text its name and identifier cover (see `lexical::coverage`).
    let mut candidates: HashMap<Uuid, (f32, serde_json::Map<String, serde_json::Value>)> =
        HashMap::new();
    for hit in by_meaning {
        candidates.insert(hit.id, (hit.score, hit.payload));
    }
    for hit in by_name {
        candidates.entry(hit.id).or_insert((f32::NAN, hit.payload));
    }

    let text_lower = parsed.text.to_lowercase();
    let mut hits = Vec::with_capacity(candidates.len());
    for (id, (semantic, payload)) in candidates {
        let record = estate.decode(id, &payload)?;
        let lexical = if name_text.is_empty() {
            0.0
        } else {
            lexical::coverage(
                &name_text,
                [
                    record.resource.name.as_str(),
                    record.resource.identifier.as_str(),
                ],
            )
        };
        let lexical = if lexical < LEXICAL_FLOOR {
            0.0
        } else {
            lexical
        };
        // A candidate found only by name has no cosine from the search: it is below the
        // dense cut-off, so count it as the weakest meaning match.
        let semantic = if semantic.is_nan() { 0.0 } else { semantic };
        let exact = record.resource.name.eq_ignore_ascii_case(&text_lower)
            || record.resource.identifier.eq_ignore_ascii_case(&text_lower);
        let score = DENSE_WEIGHT * semantic
            + LEXICAL_WEIGHT * lexical
            + hint_score(&parsed, &record)
            + if exact { EXACT_BONUS } else { 0.0 };
        hits.push(SearchHit {
            id,
            score,
            semantic,
            lexical,
            record,
        });
    }
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.record.resource.name.cmp(&b.record.resource.name))
    });
    hits.truncate(limit);
    Ok(SearchResults { parsed, hits })
}

/// The store filter for a parsed query's hard conditions.
pub fn filter_of(parsed: &ParsedQuery) -> Filter {
    let mut filter = Filter::all();
    if !parsed.accounts.is_empty() {
        filter = filter.any_of("account_id", parsed.accounts.iter().cloned());
    }
    if !parsed.regions.is_empty() {
        filter = filter.any_of("region", parsed.regions.iter().cloned());
    }
    if !parsed.services.is_empty() {
        filter = filter.any_of("service", parsed.services.iter().cloned());
    }
    if !parsed.types.is_empty() {
        filter = filter.any_of("resource_type", parsed.types.iter().cloned());
    }
    for (key, values) in &parsed.tags {
        filter = filter.any_of("tag_pairs", values.iter().map(|v| tag_pair(key, v)));
    }
    filter
}

/// The bonus for matching the query's soft hints: the suggested type, and the suggested
/// environment by tag value or account name.
fn hint_score(parsed: &ParsedQuery, record: &Record) -> f32 {
    let mut bonus = 0.0;
    if parsed.type_hints.contains(&record.resource.resource_type) {
        bonus += HINT_BONUS;
    }
    let in_env = |env: &String| {
        record
            .resource
            .tags
            .iter()
            .any(|t| query::environment(&t.value) == Some(env.as_str()))
            || query::environment(&record.account_name) == Some(env.as_str())
    };
    if parsed.env_hints.iter().any(in_env) {
        bonus += HINT_BONUS;
    }
    bonus
}
