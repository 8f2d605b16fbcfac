//! `cloudops demo`: the whole product on a machine with no AWS account.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use cloudops_demo::{self as demo, Emulator, EstateFile, SeedProgress};
use cloudops_host::config::Config;
use cloudops_host::scan::status::SyncStatus;
use cloudops_host::scan::sync::{SyncAccount, SyncOptions, DEFAULT_CONCURRENCY};
use cloudops_host::search::{self, SearchRequest};
use indicatif::{ProgressBar, ProgressStyle};

use super::{demo_ask, sync};
use cloudops_host::local;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Estate file to seed (JSON, format in DESIGN.md § 6). Default: the demo estate of
    /// three accounts (production, staging, development) × three regions, ~6,000 resources.
    #[arg(long, value_name = "FILE")]
    estate: Option<PathBuf>,
    /// Write the default demo estate file to FILE and exit (a starting point for your own).
    #[arg(long, value_name = "FILE", conflicts_with = "estate")]
    write_estate: Option<PathBuf>,
    /// Scans and batches in flight at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Keep the emulator running after the sync (until Ctrl-C) and write the data dir's
    /// config.toml for it, so later commands with the same `--data-dir` reach it.
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: DemoArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.write_estate {
        std::fs::write(path, EstateFile::default_demo().to_json())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote the demo estate to {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let estate_file = match &args.estate {
        Some(path) => EstateFile::load(path)?,
        None => EstateFile::default_demo(),
    };
    // Fail before starting anything if plugins, model or store are missing.
    let plugins = sync::load_plugins(data_dir, Vec::new())?;
    let config = Config::load_for(data_dir).map_err(anyhow::Error::msg)?;
    let local = local::open(data_dir, &config)?;
    let store = local.location.clone();

    eprintln!("starting the local AWS emulator (moto) ...");
    let emulator = Emulator::start().await?;
    let total: usize = estate_file.declared_counts().values().sum();
    eprintln!(
        "seeding {total} resources in {} accounts ...",
        estate_file.accounts().len()
    );
    let bar = progress_bar(total as u64, "resources seeded");
    let seeded = demo::seed_estate(&emulator, &estate_file, |p: SeedProgress| {
        if let Some(bar) = &bar {
            bar.set_position(p.done as u64);
        }
    })
    .await
    .context("seeding the demo estate")?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    eprintln!(
        "seeded in {:.1} s with {} requests",
        seeded.seconds, seeded.requests
    );

    let accounts: Vec<SyncAccount> = seeded
        .accounts
        .iter()
        .map(|a| SyncAccount {
            name: a.name.clone(),
            client: a.client(&emulator),
            regions: estate_file
                .account(&a.id)
                .map(|acc| acc.regions.clone())
                .unwrap_or_default(),
        })
        .collect();
    eprintln!(
        "syncing through {} sandboxed plugins ({}) into the {} (sealing key: {}) ...",
        plugins.len(),
        plugins
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", "),
        local::describe(&local.location),
        local.key_source
    );
    let options = SyncOptions {
        concurrency: args.concurrency,
        iam: true,
        // The demo estate is freshly seeded: nothing stored can be wrongly removed.
        allow_mass_delete: true,
    };
    let estate = local.estate.clone();
    let report = sync::run_sync(
        accounts,
        Vec::new(),
        plugins,
        local.estate,
        options,
        data_dir,
    )
    .await?;
    let found: usize = report.scopes.iter().map(|s| s.found).sum();
    let embedded: usize = report.scopes.iter().map(|s| s.embedded).sum();
    eprintln!(
        "synced {found} resources ({embedded} embedded) from {} scopes in {:.1} s{}",
        report.scopes.len(),
        report.duration.as_secs_f64(),
        if report.is_clean() {
            ""
        } else {
            "; some scopes had errors (`cloudops status`)"
        }
    );

    // Show one search, then how to run more.
    let accounts = SyncStatus::load(data_dir)
        .map_err(anyhow::Error::msg)?
        .account_names();
    let query = "production database";
    let results = tokio::task::spawn_blocking(move || {
        search::search(
            &estate,
            &accounts,
            &SearchRequest {
                query: query.to_owned(),
                limit: 3,
                ..SearchRequest::default()
            },
        )
    })
    .await??;
    out!("\n$ cloudops search {query:?}");
    for hit in &results.hits {
        let r = &hit.record.resource;
        out!(
            "  {:.2}  {:<14} {:<28} {} ({}) {}",
            hit.score,
            r.resource_type,
            r.name,
            hit.record.account_name,
            r.account_id,
            r.region
        );
    }
    // One plan shown and one low-risk change run, on names from this estate.
    let picks = demo_ask::picks(&estate_file);
    if let Err(e) = demo_ask::plan_and_run(data_dir, store, &emulator, &seeded, &picks).await {
        eprintln!("warning: the ask part of the demo failed: {e:#}");
    }
    if args.keep {
        demo_ask::write_config(data_dir, &emulator, &seeded, &estate_file)?;
    }
    suggest(data_dir, &picks);
    if args.keep {
        eprintln!(
            "\nThe emulator keeps running at {url}. Press Ctrl-C to stop it.",
            url = emulator.url()
        );
        tokio::signal::ctrl_c().await.ok();
    }
    drop(emulator);
    Ok(sync::exit_code(&report))
}

/// The commands to try next, on names from the seeded estate.
fn suggest(data_dir: &Path, picks: &demo_ask::Picks) {
    let dir = data_dir.display();
    let mut lines = vec![format!("search {}", picks.name)];
    lines.extend(picks.tags.as_ref().map(|t| format!("search {t}")));
    lines.push(format!("search databases in {} --json", picks.place));
    if let Some(db) = &picks.production_db {
        lines.push(format!("plan stop {db}"));
    }
    lines.extend([
        "runs".to_owned(),
        "audit verify".to_owned(),
        "status".to_owned(),
    ]);
    out!("\nThe estate is stored in {dir}. Try:");
    for line in lines {
        out!("  cloudops --data-dir {dir} {line}");
    }
}

fn progress_bar(len: u64, what: &str) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {what}"
            ))
            .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    })
}
