//! Measuring search quality: a query set with the resources each query should find.
//!
//! A query set is JSON lines: `{"query": "production database", "expect": ["pg-instance-main1"],
//! "kind": "semantic"}`. `expect` lists the acceptable answers (a query meant for one
//! resource may have equally right twins, e.g. `rotate-secrets` and `rotate-secrets-2`); one
//! matches a hit by identifier or by name. Figures: recall@1 (the top hit is acceptable),
//! recall@5 (an acceptable hit is in the top five) and MRR (1 / rank of the first acceptable
//! hit).

use serde::{Deserialize, Serialize};

use super::{search, AccountName, SearchRequest};
use crate::estate::{Estate, EstateError};

/// One query and what it should find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the user types.
    pub query: String,
    /// Identifiers or names of the acceptable answers (any one of them is right).
    pub expect: Vec<String>,
    /// What the query tests (`name`, `semantic`, `tags`, `filter`, ...), for the breakdown.
    #[serde(default)]
    pub kind: String,
}

/// Reads a JSON-lines query set; blank lines and lines starting with `#` are skipped.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(n, line)| {
            let case: Case =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            if case.expect.is_empty() {
                return Err(format!("line {}: `expect` is empty", n + 1));
            }
            Ok(case)
        })
        .collect()
}

/// One query's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The query.
    pub query: String,
    /// Its kind.
    pub kind: String,
    /// What it should find.
    pub expect: Vec<String>,
    /// The top five hits' names.
    pub got: Vec<String>,
    /// Rank (1-based) of the first expected hit, if any in the top ten.
    pub rank: Option<usize>,
    /// Share of the expected resources in the top five.
    pub recall_at_5: f64,
}

/// The figures for a query set.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Number of queries.
    pub queries: usize,
    /// Share of queries whose top hit is expected.
    pub recall_at_1: f64,
    /// Mean share of expected resources in the top five.
    pub recall_at_5: f64,
    /// Mean reciprocal rank (top ten).
    pub mrr: f64,
    /// Every query's outcome.
    pub outcomes: Vec<Outcome>,
}

/// Runs every case against `estate`.
pub fn evaluate(
    estate: &Estate,
    accounts: &[AccountName],
    cases: &[Case],
) -> Result<Report, EstateError> {
    let mut outcomes = Vec::with_capacity(cases.len());
    for case in cases {
        let results = search(
            estate,
            accounts,
            &SearchRequest {
                query: case.query.clone(),
                limit: 10,
                ..SearchRequest::default()
            },
        )?;
        let matches = |expected: &String, i: usize| {
            let r = &results.hits[i].record.resource;
            r.identifier.eq_ignore_ascii_case(expected) || r.name.eq_ignore_ascii_case(expected)
        };
        let rank = (0..results.hits.len())
            .find(|&i| case.expect.iter().any(|e| matches(e, i)))
            .map(|i| i + 1);
        let top5 = results.hits.len().min(5);
        outcomes.push(Outcome {
            query: case.query.clone(),
            kind: case.kind.clone(),
            expect: case.expect.clone(),
            got: results.hits[..top5]
                .iter()
                .map(|h| h.record.resource.name.clone())
                .collect(),
            rank,
            recall_at_5: if rank.is_some_and(|r| r <= 5) {
                1.0
            } else {
                0.0
            },
        });
    }
    let n = outcomes.len().max(1) as f64;
    Ok(Report {
        queries: outcomes.len(),
        recall_at_1: outcomes.iter().filter(|o| o.rank == Some(1)).count() as f64 / n,
        recall_at_5: outcomes.iter().map(|o| o.recall_at_5).sum::<f64>() / n,
        mrr: outcomes
            .iter()
            .map(|o| o.rank.map_or(0.0, |r| 1.0 / r as f64))
            .sum::<f64>()
            / n,
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_say_where() {
        let err = parse_cases("{\"query\": \"x\", \"expect\": []}").unwrap_err();
        assert!(err.contains("line 1") && err.contains("empty"), "{err}");
        let err =
            parse_cases("\n{\"query\": \"x\", \"expect\": [\"a\"], \"oops\": 1}").unwrap_err();
        assert!(err.contains("line 2") && err.contains("oops"), "{err}");
    }
}
