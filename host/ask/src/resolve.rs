//! From a prompt to the resources it names, with the estate's hybrid search.
//!
//! The prompt's operation words ("stop", "please", "the") are dropped and the rest is searched
//! as `cloudops search` would: its account, region, service and type words become filters and
//! the remaining words are matched by name and meaning. Resources the prompt **names**
//! exactly are meant, every one named ("stop web-1 and web-2"). A **plural** prompt ("every", "all",
//! "both", a plural noun such as "web servers") takes every hit close to the best one; a
//! **singular** prompt takes the best hit, unless another is nearly as good and neither is
//! named exactly, in which case the answer is a list of candidates to choose from.

use std::collections::BTreeSet;

use cloudops_estate::estate::{Estate, Record};
use cloudops_estate::search::{self, AccountName, ParsedQuery, SearchHit, SearchRequest};
use serde::Serialize;

use crate::AskError;

/// Hits a plural prompt may resolve to.
pub const MAX_PLURAL: usize = 50;
/// A plural prompt keeps the hits scoring at least this far below the best.
pub const PLURAL_BAND: f32 = 0.15;
/// A singular prompt is ambiguous when the second hit scores within this of the best.
pub const AMBIGUITY_MARGIN: f32 = 0.05;
/// Candidates listed for an ambiguous prompt.
pub const CANDIDATES: usize = 5;

/// Words that say what to do, not to what: dropped before the search.
const OPERATION_WORDS: &[&str] = &[
    "stop",
    "start",
    "restart",
    "reboot",
    "delete",
    "remove",
    "terminate",
    "snapshot",
    "back",
    "up",
    "backup",
    "resize",
    "scale",
    "enable",
    "disable",
    "turn",
    "on",
    "off",
    "shut",
    "down",
    "shutdown",
    "halt",
    "pause",
    "resume",
    "power",
    "please",
    "the",
    "a",
    "an",
    "my",
    "our",
    "of",
    "for",
    "to",
    "now",
    "then",
    "and",
    "with",
    "make",
    "set",
    "change",
    "close",
    "open",
    "failover",
    "fail",
    "over",
    "protect",
    "protection",
    "deletion",
    "termination",
    "multi-az",
    "retention",
    "multi",
    "az",
    "create",
    "take",
    "kill",
];

/// Words that make a prompt plural.
const PLURAL_WORDS: &[&str] = &["every", "all", "both", "each", "any"];

/// Plural nouns of resource words (a prompt naming them means all of them).
const PLURAL_NOUNS: &[&str] = &[
    "servers",
    "instances",
    "databases",
    "dbs",
    "buckets",
    "functions",
    "lambdas",
    "volumes",
    "snapshots",
    "clusters",
    "vms",
    "machines",
    "hosts",
    "groups",
    "balancers",
    "replicas",
];

/// What a prompt resolved to.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The text searched (the prompt without its operation words).
    pub query: String,
    /// How the search read it (filters, text).
    pub parsed: ParsedQuery,
    /// True when the prompt asks for every match.
    pub plural: bool,
    /// The identified resources, best first: every match of a plural prompt, the best of a
    /// singular one; empty when ambiguous.
    pub resources: Vec<Record>,
    /// A singular prompt matching several resources about equally: the candidates, best
    /// first, for the user to choose from (name them in the prompt).
    pub ambiguous: Vec<Candidate>,
}

/// A resource the prompt may mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Its ARN.
    pub arn: String,
    /// Its identifier.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its type.
    pub resource_type: String,
    /// `account name (id)`.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The search score.
    pub score: f32,
}

/// The prompt's resource words: the prompt without its operation words.
pub fn resource_words(prompt: &str) -> String {
    prompt
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| c == ',' || c == '.' || c == '?' || c == '!'))
        .filter(|w| !w.is_empty() && !OPERATION_WORDS.contains(&w.to_ascii_lowercase().as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when the prompt asks for every match ("all", "every", a plural resource noun).
pub fn is_plural(prompt: &str) -> bool {
    prompt.split_whitespace().any(|w| {
        let w = w.to_ascii_lowercase();
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        PLURAL_WORDS.contains(&w) || PLURAL_NOUNS.contains(&w)
    })
}

/// Resolves `prompt` in `estate`; `accounts` are the account names the prompt may use.
pub fn resolve(
    estate: &Estate,
    accounts: &[AccountName],
    prompt: &str,
) -> Result<Resolution, AskError> {
    let query = resource_words(prompt);
    let plural = is_plural(prompt);
    if query.trim().is_empty() {
        return Err(AskError::NothingFound(prompt.to_owned()));
    }
    let results = search::search(
        estate,
        accounts,
        &SearchRequest {
            query: query.clone(),
            limit: MAX_PLURAL,
            ..SearchRequest::default()
        },
    )
    .map_err(|e| AskError::Estate(e.to_string()))?;
    let hits = results.hits;
    let Some(best) = hits.first() else {
        return Err(AskError::NothingFound(query));
    };
    let best_score = best.score;
    let mut resolution = Resolution {
        query,
        parsed: results.parsed.clone(),
        plural,
        resources: Vec::new(),
        ambiguous: Vec::new(),
    };
    let exact: Vec<&SearchHit> = hits
        .iter()
        .filter(|h| named_exactly(prompt, &h.record))
        .collect();
    if !exact.is_empty() {
        // Named resources are meant, every one named ("stop web-1 and web-2"), and of a
        // name several types share (an instance and its root volume) each: the planner keeps
        // those its playbook applies to. Two of one type and name are ambiguous.
        let mut seen = BTreeSet::new();
        let distinct = exact
            .iter()
            .all(|h| seen.insert((&h.record.resource.name, &h.record.resource.resource_type)));
        if distinct {
            resolution.resources = exact.iter().map(|h| h.record.clone()).collect();
        } else {
            resolution.ambiguous = exact
                .iter()
                .map(|h| candidate(&h.record, h.score))
                .collect();
        }
        return Ok(resolution);
    }
    if plural {
        // A query of filters only lists what matches; all of it is meant.
        let all = results.parsed.text.is_empty();
        resolution.resources = hits
            .into_iter()
            .filter(|h| all || h.score >= best_score - PLURAL_BAND)
            .map(|h| h.record)
            .collect();
        return Ok(resolution);
    }
    let close = hits
        .get(1)
        .is_some_and(|second| best_score - second.score < AMBIGUITY_MARGIN);
    if close {
        resolution.ambiguous = hits
            .iter()
            .take(CANDIDATES)
            .map(|h| candidate(&h.record, h.score))
            .collect();
    } else {
        resolution.resources = vec![best.record.clone()];
    }
    Ok(resolution)
}

/// True when a word of the prompt is the record's name or identifier.
fn named_exactly(prompt: &str, record: &Record) -> bool {
    let r = &record.resource;
    prompt.split_whitespace().any(|w| {
        let w = w.trim_matches(|c: char| c == ',' || c == '.' || c == '?' || c == '!');
        w.eq_ignore_ascii_case(&r.name) || w == r.identifier
    })
}

/// The candidate a record makes.
pub fn candidate(record: &Record, score: f32) -> Candidate {
    let r = &record.resource;
    Candidate {
        arn: r.arn.clone(),
        id: r.identifier.clone(),
        name: r.name.clone(),
        resource_type: r.resource_type.clone(),
        account: format!("{} ({})", record.account_name, r.account_id),
        region: r.region.clone(),
        score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_words_are_dropped_and_names_kept() {
        assert_eq!(
            resource_words("stop pg-instance-main1"),
            "pg-instance-main1"
        );
        assert_eq!(
            resource_words("Please shut down the staging web servers."),
            "staging web servers"
        );
        assert_eq!(
            resource_words("turn off Multi-AZ on orders-db"),
            "orders-db"
        );
    }

    #[test]
    fn plural_prompts_are_recognised() {
        assert!(is_plural("stop every web server in staging"));
        assert!(is_plural("reboot the staging web servers"));
        assert!(is_plural("snapshot all databases"));
        assert!(!is_plural("stop pg-instance-main1"));
        assert!(!is_plural("stop the production database"));
    }
}
