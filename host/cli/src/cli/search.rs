//! `cloudops search` and `cloudops eval`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use cloudops_demo::offline_records;
use cloudops_demo::EstateFile;
use cloudops_host::config::Config;
use cloudops_host::embed::Embedder;
use cloudops_host::estate::{Estate, Record};
use cloudops_host::scan::status::SyncStatus;
use cloudops_host::search::{self, eval, AccountName, SearchRequest};
use cloudops_host::store::seal::Sealer;
use cloudops_host::store::{self, Location};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::json;

use cloudops_host::local;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to find: names ("pg-main1"), meaning ("production database"), tags
    /// ("env=prod AND app=main"), account ("in production account"), region ("in
    /// us-west-2") and service or type words ("rds", "buckets"), in any mix.
    query: Vec<String>,
    /// Only this account (id); repeat for several.
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// Only this region; repeat for several.
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// Only this resource type (ec2_instance, rds_instance, s3_bucket, ...); repeat for several.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// How many results.
    #[arg(long, short = 'n', default_value_t = 10)]
    limit: usize,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn search(args: SearchArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let query = args.query.join(" ");
    if query.trim().is_empty() {
        anyhow::bail!("say what to search for, e.g. `cloudops search production database`");
    }
    let config = Config::load_for(data_dir).map_err(anyhow::Error::msg)?;
    let local = local::open_reader(data_dir, &config)?;
    let accounts = SyncStatus::load(data_dir)
        .map_err(anyhow::Error::msg)?
        .account_names();
    let started = std::time::Instant::now();
    let results = search::search(
        &local.estate,
        &accounts,
        &SearchRequest {
            query,
            accounts: args.accounts,
            regions: args.regions,
            types: args.types,
            limit: args.limit,
        },
    )?;
    let took = started.elapsed();
    if args.json {
        let hits: Vec<_> = results.hits.iter().map(hit_json).collect();
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "query": {
                    "text": results.parsed.text,
                    "tags": results.parsed.tags,
                    "accounts": results.parsed.accounts,
                    "regions": results.parsed.regions,
                    "services": results.parsed.services,
                    "types": results.parsed.types,
                },
                "results": hits,
            }))?
        );
    } else if results.hits.is_empty() {
        eprintln!(
            "nothing found{}; is the estate synced? (`cloudops status`)",
            if results.parsed.has_filters() {
                " with those filters"
            } else {
                ""
            }
        );
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header([
            "SCORE", "TYPE", "NAME", "ID", "ACCOUNT", "REGION", "STATE", "TAGS", "YOU MAY",
        ]);
        for hit in &results.hits {
            let r = &hit.record.resource;
            let tags: Vec<String> = r
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect();
            table.add_row([
                format!("{:.2}", hit.score),
                r.resource_type.clone(),
                r.name.clone(),
                r.identifier.clone(),
                format!("{} ({})", hit.record.account_name, r.account_id),
                r.region.clone(),
                r.state.clone().unwrap_or_default(),
                tags.join(" "),
                you_may(&hit.record),
            ]);
        }
        out!("{table}");
        // Kept values look like fresh ones in the table: say which are not.
        for line in results.hits.iter().filter_map(|h| stale_line(&h.record)) {
            eprintln!("{line}");
        }
        eprintln!(
            "{} results in {:.1} ms",
            results.hits.len(),
            took.as_secs_f64() * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON of one hit (DESIGN § 7): id, type, account, region, name, tags, state, score,
/// the allowed and denied actions once synced with IAM, and `stale`: each part kept from an
/// earlier read because the last read failed, with since when (unix seconds, or null when
/// it was never read).
fn hit_json(hit: &search::SearchHit) -> serde_json::Value {
    let record = &hit.record;
    let r = &record.resource;
    json!({
        "id": r.identifier,
        "point_id": hit.id,
        "type": r.resource_type,
        "name": r.name,
        "arn": r.arn,
        "account": r.account_id,
        "account_name": record.account_name,
        "region": r.region,
        "state": r.state,
        "tags": r.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect::<std::collections::BTreeMap<_, _>>(),
        "score": hit.score,
        "semantic": hit.semantic,
        "lexical": hit.lexical,
        "allowed": record.permissions.as_ref().map(|p| &p.allowed),
        "denied": record.permissions.as_ref().map(|p| &p.denied),
        "constraints": record.constraints,
        "stale": record.stale().into_iter().map(|s| (s.part, s.since)).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

/// `ID: stale: tags since …` for a record with parts kept from an earlier read.
fn stale_line(record: &Record) -> Option<String> {
    let stale = record.stale();
    if stale.is_empty() {
        return None;
    }
    let parts: Vec<String> = stale.iter().map(ToString::to_string).collect();
    Some(format!(
        "{}: stale: {} (the last read failed; the value shown is the last one read, and \
         `cloudops sync` reads it again)",
        record.resource.identifier,
        parts.join(", ")
    ))
}

/// What the constraints allow, in a few words.
fn you_may(record: &Record) -> String {
    match record.may() {
        None => "? (IAM unknown)".to_owned(),
        Some(may) if may.is_empty() => "-".to_owned(),
        Some(may) => may.join(", "),
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Query set (JSON lines: {"query", "expect": [ids or names], "kind"}). Default: the
    /// development set kept with the code (host/demo/eval/dev.jsonl).
    #[arg(long, value_name = "FILE")]
    queries: Option<PathBuf>,
    /// Estate file to index (DESIGN § 6). Default: the demo estate.
    #[arg(long, value_name = "FILE")]
    estate: Option<PathBuf>,
    /// Print every query's outcome, not only misses.
    #[arg(long)]
    all: bool,
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// Indexes an estate file into a fresh temporary store (the resources as the scanners
/// would report them; no emulator needed), runs the query set and prints recall@1,
/// recall@5 and MRR.
pub fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let cases = match &args.queries {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            eval::parse_cases(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => eval::parse_cases(cloudops_demo::DEV_SET).map_err(anyhow::Error::msg)?,
    };
    let estate_file = match &args.estate {
        Some(path) => EstateFile::load(path)?,
        None => EstateFile::default_demo(),
    };
    let dir = tempfile::tempdir().context("creating a temporary store")?;
    let started = std::time::Instant::now();
    let (estate, accounts) = index_estate_file(&estate_file, dir.path())?;
    let indexed = started.elapsed();
    let started = std::time::Instant::now();
    let report = eval::evaluate(&estate, &accounts, &cases)?;
    let searched = started.elapsed();
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for o in &report.outcomes {
            if args.all || o.rank != Some(1) {
                out!(
                    "{} [{}] {:?} expected {:?}, got {:?}",
                    match o.rank {
                        Some(1) => "ok  ".to_owned(),
                        Some(r) => format!("#{r:<3}"),
                        None => "miss".to_owned(),
                    },
                    o.kind,
                    o.query,
                    o.expect,
                    o.got
                );
            }
        }
        out!(
            "queries: {}  recall@1: {:.3}  recall@5: {:.3}  MRR: {:.3}",
            report.queries,
            report.recall_at_1,
            report.recall_at_5,
            report.mrr
        );
        eprintln!(
            "indexed {} resources in {:.1} s; {:.1} ms per query",
            estate_file.resources().len(),
            indexed.as_secs_f64(),
            searched.as_secs_f64() * 1e3 / report.queries.max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds an estate in `dir` from an estate file's resources, with a throwaway sealing key.
fn index_estate_file(file: &EstateFile, dir: &Path) -> anyhow::Result<(Estate, Vec<AccountName>)> {
    let store = store::open(&Location::Embedded(dir.join("store")))?;
    let embedder = Embedder::from_env().context("loading the embedding model")?;
    let estate = Estate::new(
        Arc::from(store),
        Arc::new(embedder),
        Arc::new(Sealer::generate()),
    );
    let (records, accounts) = offline_records(file);
    estate.put(records)?;
    estate.store().optimize()?;
    Ok((estate, accounts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_host::resource::{Constraints, Resource};

    fn hit(metadata: serde_json::Value) -> search::SearchHit {
        let serde_json::Value::Object(metadata) = metadata else {
            panic!("an object")
        };
        let record = Record {
            resource: Resource {
                resource_type: "s3_bucket".into(),
                identifier: "ledger-eu".into(),
                arn: "arn:aws:s3:::ledger-eu".into(),
                name: "ledger-eu".into(),
                account_id: "123456789012".into(),
                region: "eu-west-1".into(),
                state: None,
                tags: Vec::new(),
                relations: Vec::new(),
                metadata,
            },
            service: "s3".into(),
            account_name: "production".into(),
            permissions: None,
            constraints: Constraints::default(),
            principal: None,
        };
        let id = record.id();
        search::SearchHit {
            id,
            score: 1.0,
            semantic: 1.0,
            lexical: 1.0,
            record,
        }
    }

    #[test]
    fn stale_parts_show_in_the_table_note_and_the_json() {
        let stale = hit(json!({"_stale": {"tags": 1_796_520_600, "versioning": null}}));
        assert_eq!(
            hit_json(&stale)["stale"],
            json!({"tags": 1_796_520_600, "versioning": null})
        );
        let line = stale_line(&stale.record).unwrap();
        assert!(
            line.starts_with(
                "ledger-eu: stale: tags since 2026-12-06 01:30 UTC, versioning never read"
            ),
            "{line}"
        );

        let fresh = hit(json!({"versioning": "Enabled"}));
        assert_eq!(hit_json(&fresh)["stale"], json!({}));
        assert_eq!(stale_line(&fresh.record), None);
    }
}
