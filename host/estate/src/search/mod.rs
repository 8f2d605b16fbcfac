//! Hybrid search of the local estate.
//!
//! A query is taken apart ([`query::parse`]) into hard filters (tags, account, region,
//! service, type), soft hints and free text. The free text is matched two ways under the
//! same filter: by meaning (the dense embedding) and by name (character n-grams of names
//! and identifiers, [`lexical`]). The two candidate lists are fused into one ranking:
//!
//! `score = 0.55·cosine + 0.45·name match + 0.1·hints (+0.5 for an exact name)
//!          − 0.1 for a derived resource`
//!
//! (0.7·cosine + 0.3·name match for a query in plain words rather than a name), where the
//! name match is mostly the share of the query's name features (words and
//! trigrams) found in the resource's name or identifier ([`lexical::name_match`]), so a
//! query with no name in it is ranked by meaning alone. Derived resources (snapshots,
//! aliases) share their source's name; unless the query asks for their type, the source
//! comes first. A query that is all filters lists what matches, primary resources first
//! ([`prominence`]), then by name.
//!
//! Ranking reads only the plain payload fields ([`Estate::plain`]); only the hits returned
//! are unsealed. The name search runs on its own thread while the query is embedded.

pub mod eval;
pub use cloudops_core::lexical;
pub mod query;

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use crate::embed::cosine;
use crate::estate::{tag_pair, Estate, EstateError, Plain, Record};
use crate::store::{Collection, Filter, Query};
pub use query::{AccountName, ParsedQuery};

/// How many candidates each of the two matchers contributes before fusion.
const CANDIDATES: usize = 50;
/// (meaning, name) weights for a query that looks like a name ("pg-main1", "web server 1")
/// and for one in plain words ("send alerts to slack"), where shared words with unrelated
/// names ("acme-prod-shipping-logs" for "ship logs") are weaker evidence than meaning.
const NAME_WEIGHTS: (f32, f32) = (0.55, 0.45);
const PHRASE_WEIGHTS: (f32, f32) = (0.7, 0.3);
const HINT_BONUS: f32 = 0.1;
const EXACT_BONUS: f32 = 0.5;
const DERIVED_PENALTY: f32 = 0.1;
/// How far below its source a derived resource is put when it would rank above it.
const SOURCE_MARGIN: f32 = 0.001;
/// Copies and pointers that carry their source's name: a query naming the source means the
/// source unless it asks for one of these types.
const DERIVED_TYPES: &[&str] = &["ec2_snapshot", "rds_snapshot", "lambda_alias"];
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

/// One result's plain fields, read without unsealing anything: what a list of results
/// shows. A listing of thousands costs no decryption; [`Estate::get`] gives the whole record.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The point id.
    pub id: Uuid,
    /// The fused score (higher is better).
    pub score: f32,
    /// Cosine similarity of the query's meaning to the resource's (0 for a listing).
    pub semantic: f32,
    /// Name match, 0..1 (see [`SearchHit::lexical`]).
    pub lexical: f32,
    /// `rds_instance`, ...
    pub resource_type: String,
    /// The resource's name.
    pub name: String,
    /// Its identifier within the account and region.
    pub identifier: String,
    /// The account id.
    pub account_id: String,
    /// The account's name.
    pub account_name: String,
    /// The region (empty for global resources).
    pub region: String,
    /// The state, if it has one.
    pub state: Option<String>,
}

/// The answer: the parsed query and the ranked hits ([`SearchHit`]s, or [`Summary`]s from
/// [`summaries`]).
#[derive(Debug, Clone)]
pub struct SearchResults<H = SearchHit> {
    /// How the query was read.
    pub parsed: ParsedQuery,
    /// Best first.
    pub hits: Vec<H>,
}

/// Searches `estate`. `accounts` are the account names a query may use. Unseals the hits
/// it returns, and only those.
pub fn search(
    estate: &Estate,
    accounts: &[AccountName],
    request: &SearchRequest,
) -> Result<SearchResults, EstateError> {
    let SearchResults { parsed, hits } = summaries(estate, accounts, request)?;
    let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
    let mut payloads: HashMap<Uuid, serde_json::Map<String, serde_json::Value>> = estate
        .store()
        .retrieve(Collection::Estate, &ids, false)?
        .into_iter()
        .map(|p| (p.id, p.payload))
        .collect();
    // A hit deleted since it was ranked (in a store a writer holds) is left out.
    let hits = hits
        .into_iter()
        .filter_map(|h| payloads.remove(&h.id).map(|payload| (h, payload)))
        .map(|(h, payload)| {
            Ok(SearchHit {
                id: h.id,
                score: h.score,
                semantic: h.semantic,
                lexical: h.lexical,
                record: estate.decode(h.id, &payload)?,
            })
        })
        .collect::<Result<_, EstateError>>()?;
    Ok(SearchResults { parsed, hits })
}

/// Searches `estate` as [`search`] does, returning each hit's plain fields only: nothing is
/// unsealed, and a listing of thousands reads no whole payload from a frozen store (see
/// [`Estate::catalog`]).
pub fn summaries(
    estate: &Estate,
    accounts: &[AccountName],
    request: &SearchRequest,
) -> Result<SearchResults<Summary>, EstateError> {
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
        let hits = listing(estate, &parsed, &filter, limit)?;
        return Ok(SearchResults { parsed, hits });
    }

    // Hint words ("production database") would match names by accident ("acme-prod-...").
    let name_text = parsed
        .text
        .split_whitespace()
        .filter(|w| !query::is_hint_word(w))
        .collect::<Vec<_>>()
        .join(" ");
    let per_matcher = CANDIDATES.max(limit);
    // The name search needs no embedding: it runs while the query is embedded.
    let (dense, by_meaning, by_name) = std::thread::scope(|scope| {
        let by_name = (!name_text.is_empty()).then(|| {
            scope.spawn(|| {
                store.search(
                    Collection::Estate,
                    &Query::Lexical(lexical::features([name_text.as_str()])),
                    &filter,
                    per_matcher,
                )
            })
        });
        let dense = estate.embedder().embed_query(&parsed.text)?;
        let by_meaning = store.search(
            Collection::Estate,
            &Query::Dense(dense.clone()),
            &filter,
            per_matcher,
        )?;
        let by_name = match by_name {
            Some(task) => task
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            None => Vec::new(),
        };
        Ok::<_, EstateError>((dense, by_meaning, by_name))
    })?;

    // The store's name search only proposes candidates; every candidate is then scored by
    // how well its name and identifier match the name text (see `lexical::name_match`).
    let mut candidates: HashMap<Uuid, (f32, serde_json::Map<String, serde_json::Value>)> =
        HashMap::new();
    for hit in by_meaning {
        candidates.insert(hit.id, (hit.score, hit.payload));
    }
    let name_only: Vec<Uuid> = by_name
        .iter()
        .map(|hit| hit.id)
        .filter(|id| !candidates.contains_key(id))
        .collect();
    for hit in by_name {
        candidates.entry(hit.id).or_insert((f32::NAN, hit.payload));
    }
    // A candidate found only by name still needs its meaning score, or a mistyped name
    // ("pg-instnce-main1") loses to anything the dense side happened to return.
    if !name_only.is_empty() {
        for point in store.retrieve(Collection::Estate, &name_only, true)? {
            if let (Some(c), Some(vector)) = (candidates.get_mut(&point.id), point.dense) {
                c.0 = cosine(&dense, &vector);
            }
        }
    }

    let text_key = name_key(&parsed.text);
    let (dense_weight, lexical_weight) = if looks_like_a_name(&name_text) {
        NAME_WEIGHTS
    } else {
        PHRASE_WEIGHTS
    };
    let name_query = lexical::NameQuery::new(&name_text);
    let mut ranked = Vec::with_capacity(candidates.len());
    for (id, (semantic, payload)) in &candidates {
        let plain = Estate::plain(*id, payload)?;
        let lexical = if name_text.is_empty() {
            0.0
        } else {
            name_query
                .score(plain.name)
                .max(name_query.score(plain.identifier))
        };
        let lexical = if lexical < LEXICAL_FLOOR {
            0.0
        } else {
            lexical
        };
        // A name-only candidate whose vector could not be read back (deleted meanwhile)
        // counts as the weakest meaning match.
        let semantic = if semantic.is_nan() { 0.0 } else { *semantic };
        let exact = !text_key.is_empty()
            && (name_key(plain.name) == text_key || name_key(plain.identifier) == text_key);
        let penalty = derived_penalty(&parsed, &plain);
        let score =
            dense_weight * semantic + lexical_weight * lexical + hint_score(&parsed, &plain)
                - penalty
                + if exact { EXACT_BONUS } else { 0.0 };
        ranked.push(Ranked {
            score,
            semantic,
            lexical,
            derived: penalty > 0.0,
            plain,
            id: *id,
        });
    }
    // A pointer's text is little more than its source's name, so it can match a query better
    // than the source itself ("session-cleanup:live" for "clean up expired sessions"): it
    // never ranks above its source unless its type was asked for.
    let mut sources: HashMap<&str, f32> = HashMap::new();
    for r in ranked.iter().filter(|r| !r.derived) {
        let best = sources.entry(r.plain.name).or_insert(f32::MIN);
        *best = best.max(r.score);
    }
    for r in ranked.iter_mut().filter(|r| r.derived) {
        let source = r.plain.name.split(':').next().unwrap_or(r.plain.name);
        if let Some(&best) = sources.get(source) {
            r.score = r.score.min(best - SOURCE_MARGIN);
        }
    }
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.plain.name.cmp(b.plain.name))
    });
    let hits = ranked.iter().take(limit).map(Ranked::summary).collect();
    Ok(SearchResults { parsed, hits })
}

/// A query of filters only: everything that matches, primary resources first, then by name.
/// From the catalog when the store is frozen (the ids from the store's indexes, the fields
/// from memory); else every matching payload is read.
fn listing(
    estate: &Estate,
    parsed: &ParsedQuery,
    filter: &Filter,
    limit: usize,
) -> Result<Vec<Summary>, EstateError> {
    let store = estate.store();
    let catalog = estate.catalog()?;
    let scanned;
    let matching: Vec<(Uuid, &serde_json::Map<String, serde_json::Value>)> = match &catalog {
        Some(catalog) => store
            .scan_ids(Collection::Estate, filter)?
            .into_iter()
            .filter_map(|id| catalog.get(&id).map(|fields| (id, fields)))
            .collect(),
        None => {
            scanned = store.scan(Collection::Estate, filter)?;
            scanned.iter().map(|p| (p.id, &p.payload)).collect()
        }
    };
    let mut ranked = Vec::with_capacity(matching.len());
    for (id, fields) in matching {
        let plain = Estate::plain(id, fields)?;
        let penalty = derived_penalty(parsed, &plain);
        ranked.push(Ranked {
            score: 1.0 + hint_score(parsed, &plain) - penalty,
            semantic: 0.0,
            lexical: 0.0,
            derived: penalty > 0.0,
            plain,
            id,
        });
    }

    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| prominence(&a.plain).cmp(&prominence(&b.plain)))
            .then_with(|| a.plain.name.cmp(b.plain.name))
    });
    let hits = ranked.iter().take(limit).map(Ranked::summary).collect();
    Ok(hits)
}

/// A candidate being ranked: its scores and plain fields.
struct Ranked<'p> {
    score: f32,
    semantic: f32,
    lexical: f32,
    /// A derived resource whose type the query did not ask for.
    derived: bool,
    plain: Plain<'p>,
    id: Uuid,
}

impl Ranked<'_> {
    fn summary(&self) -> Summary {
        let p = &self.plain;
        Summary {
            id: self.id,
            score: self.score,
            semantic: self.semantic,
            lexical: self.lexical,
            resource_type: p.resource_type.to_owned(),
            name: p.name.to_owned(),
            identifier: p.identifier.to_owned(),
            account_id: p.account_id.to_owned(),
            account_name: p.account_name.to_owned(),
            region: p.region.to_owned(),
            state: p.state.map(str::to_owned),
        }
    }
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

/// One word, or words with separators or digits in them: someone typing (part of) a name.
fn looks_like_a_name(text: &str) -> bool {
    text.split_whitespace().count() <= 1
        || text
            .chars()
            .any(|c| c.is_ascii_digit() || matches!(c, '-' | '_' | ':' | '.' | '/'))
}

/// A name with case and separators dropped: "web server 1" is `web-server-1`.
fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The penalty for a derived resource the query did not ask for by type.
fn derived_penalty(parsed: &ParsedQuery, record: &Plain) -> f32 {
    let kind = record.resource_type;
    if DERIVED_TYPES.contains(&kind) && !parsed.types.iter().any(|t| t == kind) {
        DERIVED_PENALTY
    } else {
        0.0
    }
}

/// The order in which a list of filter matches shows types (lower first): what people act
/// on (databases, servers, load balancers, functions) before storage, storage before network
/// plumbing.
fn prominence(record: &Plain) -> u8 {
    match record.resource_type {
        "rds_cluster" | "rds_instance" => 0,
        "ec2_instance" => 1,
        "elb_load_balancer" => 2,
        "lambda_function" => 3,
        "s3_bucket" => 4,
        "ec2_volume" => 5,
        "vpc" => 6,
        "vpc_subnet" | "vpc_security_group" => 7,
        _ => 8,
    }
}

/// The bonus for matching the query's soft hints: the suggested type, and the suggested
/// environment by tag value or account name.
fn hint_score(parsed: &ParsedQuery, record: &Plain) -> f32 {
    let mut bonus = 0.0;
    if parsed.type_hints.iter().any(|t| t == record.resource_type) {
        bonus += HINT_BONUS;
    }
    let in_env = |env: &String| {
        record
            .tag_values()
            .any(|value| query::environment(value) == Some(env.as_str()))
            || query::environment(record.account_name) == Some(env.as_str())
    };
    if parsed.env_hints.iter().any(in_env) {
        bonus += HINT_BONUS;
    }
    bonus
}
