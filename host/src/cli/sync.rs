//! `cloudops sync` and `cloudops status`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use cloudops_host::aws::{self, iam, AwsClient, Endpoints, HttpTransport};
use cloudops_host::config::{AccountConfig, Config};
use cloudops_host::estate::Estate;
use cloudops_host::paths;
use cloudops_host::plugin::{self, CodeCache, Limits, Plugin, PluginEngine};
use cloudops_host::scan::status::{ScopeStatus, SyncStatus};
use cloudops_host::scan::sync::{self, Event, SyncAccount, SyncOptions, SyncReport};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use indicatif::{ProgressBar, ProgressStyle};

use super::local;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// AWS profile to sync (role_arn/source_profile profiles work); repeat for several
    /// accounts. Default: the `[[accounts]]` of the config file, else the default
    /// credentials.
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Region to scan in every account; repeat for several. Default: each account's
    /// configured regions, else AWS_REGION / the profile's region.
    #[arg(long = "region", short, value_name = "REGION")]
    regions: Vec<String>,
    /// Only these services (plugin names); repeat for several. Default: every installed plugin.
    #[arg(long = "service", short, value_name = "NAME")]
    services: Vec<String>,
    /// Scans and batches in flight at once [default: 10, or the config's sync.concurrency].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Skip IAM permission discovery (constraints then come from resource state alone).
    #[arg(long)]
    no_iam: bool,
    /// Print the outcome as one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: SyncArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load().map_err(anyhow::Error::msg)?;
    let plugins = load_plugins(data_dir, select_services(&args.services, &config))?;
    let accounts = accounts(&args, &config).await?;
    let local = local::open(data_dir, &config)?;
    eprintln!(
        "syncing {} account(s) with {} plugin(s) into the {} (sealing key: {})",
        accounts.len(),
        plugins.len(),
        local::describe(&local.location),
        local.key_source
    );
    let options = SyncOptions {
        concurrency: args
            .concurrency
            .or(config.sync.concurrency)
            .unwrap_or(sync::DEFAULT_CONCURRENCY),
        iam: !args.no_iam,
    };
    let report = run_sync(accounts, plugins, local.estate, options, data_dir).await?;
    print_report(&report, args.json)?;
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs a sync with progress on stderr and records its status in the data dir.
pub async fn run_sync(
    accounts: Vec<SyncAccount>,
    plugins: Vec<Plugin>,
    estate: Estate,
    options: SyncOptions,
    data_dir: &Path,
) -> anyhow::Result<SyncReport> {
    let total = accounts.iter().map(|a| a.regions.len()).sum::<usize>() * plugins.len();
    let progress = Arc::new(Progress::new(total as u64));
    let events = {
        let progress = progress.clone();
        Arc::new(move |event: Event| progress.event(event))
    };
    let report = sync::sync(accounts, plugins, estate, options, events).await;
    progress.finish();
    let mut status = SyncStatus::load(data_dir).unwrap_or_default();
    for account in &report.accounts {
        status.accounts.insert(account.id.clone(), account.clone());
    }
    for scope in &report.scopes {
        status.record(scope.clone());
    }
    status.save(data_dir).map_err(anyhow::Error::msg)?;
    Ok(report)
}

/// Live progress on a terminal (indicatif), plain lines otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    stored: Mutex<usize>,
}

impl Progress {
    fn new(scopes: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(scopes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} scopes  {msg}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            stored: Mutex::new(0),
        }
    }

    fn event(&self, event: Event) {
        let line = match event {
            Event::AccountReady { account, scopes } => Some(format!(
                "account {} ({}): {scopes} scopes, as {}",
                account.name,
                account.id,
                account.principal.as_deref().unwrap_or("unknown principal")
            )),
            Event::AccountFailed {
                name,
                error,
                scopes,
            } => {
                if let Some(bar) = &self.bar {
                    bar.inc(scopes as u64);
                }
                Some(format!("account {name}: {error}"))
            }
            Event::Scanned { .. } => None,
            Event::Stored { count, .. } => {
                let mut stored = self.stored.lock().expect("progress lock");
                *stored += count;
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{stored} resources stored"));
                }
                None
            }
            Event::ScopeDone(scope) => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                let line = scope_line(&scope);
                // On a terminal, only problems get a line of their own.
                (self.bar.is_none() || !scope.errors.is_empty()).then_some(line)
            }
        };
        if let Some(line) = line {
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn scope_line(s: &ScopeStatus) -> String {
    let mut line = format!(
        "{}/{}/{}: {} found, +{} ~{} ={} -{} ({} embedded) in {:.1} s",
        s.account_id,
        s.region,
        s.service,
        s.found,
        s.added,
        s.updated,
        s.unchanged,
        s.removed,
        s.embedded,
        s.duration_ms as f64 / 1e3
    );
    if !s.errors.is_empty() {
        line.push_str(&format!("; errors: {}", s.errors.join("; ")));
    }
    line
}

fn print_report(report: &SyncReport, json_out: bool) -> anyhow::Result<()> {
    let sum = |f: fn(&ScopeStatus) -> usize| report.scopes.iter().map(f).sum::<usize>();
    let removed: u64 = report.scopes.iter().map(|s| s.removed).sum();
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "duration_ms": report.duration.as_millis() as u64,
                "accounts": report.accounts,
                "failed_accounts": report.failed_accounts.iter().map(|(name, error)| serde_json::json!({"name": name, "error": error})).collect::<Vec<_>>(),
                "scopes": report.scopes,
            }))?
        );
        return Ok(());
    }
    let failed = report
        .scopes
        .iter()
        .filter(|s| !s.errors.is_empty())
        .count();
    eprintln!(
        "synced {} scopes in {:.1} s: {} found, {} added, {} updated, {} unchanged, {} removed, {} embedded{}",
        report.scopes.len(),
        report.duration.as_secs_f64(),
        sum(|s| s.found),
        sum(|s| s.added),
        sum(|s| s.updated),
        sum(|s| s.unchanged),
        removed,
        sum(|s| s.embedded),
        if failed > 0 || !report.failed_accounts.is_empty() {
            format!(
                "; {failed} scopes and {} accounts had errors (see above, or `cloudops status`)",
                report.failed_accounts.len()
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

fn select_services(cli: &[String], config: &Config) -> Vec<String> {
    if cli.is_empty() {
        config.sync.services.clone()
    } else {
        cli.to_vec()
    }
}

/// Loads the installed plugins (all, or the named ones); a plugin that fails to load is
/// reported and skipped.
pub fn load_plugins(data_dir: &Path, only: Vec<String>) -> anyhow::Result<Vec<Plugin>> {
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))?;
    let roots = paths::plugin_roots(data_dir);
    let trust = plugin::trust::TrustStore::open(&paths::trust_file(data_dir))?;
    // Untrusted plugins are refused here, before any of their code runs; the others go on.
    let (mut plugins, errors) = plugin::load_all(&engine, &roots, &Limits::default(), &trust);
    for e in &errors {
        eprintln!("warning: skipping a plugin: {e}");
    }
    if !only.is_empty() {
        for name in &only {
            if !plugins.iter().any(|p| p.name() == name) {
                if !errors.is_empty() {
                    anyhow::bail!(
                        "the `{name}` plugin could not be loaded (see the warnings above): trust \
                         it with `cloudops plugin trust {name}`, or build it with `cloudops \
                         plugin build plugins/{name}`"
                    );
                }
                anyhow::bail!(
                    "no `{name}` plugin installed: build it with `cloudops plugin build plugins/{name}`"
                );
            }
        }
        plugins.retain(|p| only.iter().any(|n| n == p.name()));
    }
    if plugins.is_empty() && !errors.is_empty() {
        anyhow::bail!(
            "none of the installed plugins could be loaded (see the warnings above): trust the \
             ones you accept with `cloudops plugin trust NAME` (`cloudops plugin list` shows \
             them), or rebuild them with `cloudops plugin build plugins/`"
        );
    }
    if plugins.is_empty() {
        anyhow::bail!(
            "no scanner plugins installed in {}: build them with `cloudops plugin build plugins/`",
            roots[0].display()
        );
    }
    Ok(plugins)
}

/// The accounts to sync: `--profile`s, else the config's `[[accounts]]`, else the default
/// credentials.
async fn accounts(args: &SyncArgs, config: &Config) -> anyhow::Result<Vec<SyncAccount>> {
    let entries: Vec<AccountConfig> = if !args.profiles.is_empty() {
        args.profiles
            .iter()
            .map(|p| AccountConfig {
                name: p.clone(),
                profile: Some(p.clone()),
                role_arn: None,
                regions: Vec::new(),
            })
            .collect()
    } else if !config.accounts.is_empty() {
        config.accounts.clone()
    } else {
        vec![AccountConfig {
            name: std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into()),
            profile: None,
            role_arn: None,
            regions: Vec::new(),
        }]
    };
    let transport = Arc::new(HttpTransport::new()?);
    let mut accounts = Vec::new();
    for entry in entries {
        let regions = if !args.regions.is_empty() {
            args.regions.clone()
        } else if !entry.regions.is_empty() {
            entry.regions.clone()
        } else {
            vec![super::scan::default_region(entry.profile.as_deref()).await?]
        };
        let credentials = aws::load_credentials(entry.profile.as_deref())
            .await
            .with_context(|| format!("credentials for account `{}`", entry.name))?;
        let mut client = AwsClient::new(credentials, Endpoints::from_env(), transport.clone());
        if let Some(role) = &entry.role_arn {
            client = iam::assume_role(&client, &regions[0], role, "cloudops-sync")
                .await
                .with_context(|| format!("assuming {role} for account `{}`", entry.name))?;
        }
        accounts.push(SyncAccount {
            name: entry.name,
            client,
            regions,
        });
    }
    Ok(accounts)
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// Shows the last sync of every (account, region, service) and where the estate lives.
pub fn status(args: StatusArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load().map_err(anyhow::Error::msg)?;
    let status = SyncStatus::load(data_dir).map_err(anyhow::Error::msg)?;
    let location = local::location(data_dir, &config);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "store": local::describe(&location),
                "accounts": status.accounts.values().collect::<Vec<_>>(),
                "scopes": status.scopes.values().map(|s| {
                    let mut v = serde_json::to_value(s).expect("serializable");
                    v["iam_success_rate"] = serde_json::json!(s.iam_success_rate());
                    v
                }).collect::<Vec<_>>(),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("store: {}", local::describe(&location));
    if status.scopes.is_empty() {
        println!("nothing synced yet: run `cloudops sync` (or `cloudops demo`)");
        return Ok(ExitCode::SUCCESS);
    }
    let name_of = |id: &str| {
        status
            .accounts
            .get(id)
            .map(|a| format!("{} ({id})", a.name))
            .unwrap_or_else(|| id.to_owned())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let ago = |t: i64| humanize(now - t);
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "ACCOUNT",
        "REGION",
        "SERVICE",
        "LAST SUCCESS",
        "TOOK",
        "FOUND",
        "+",
        "~",
        "-",
        "IAM",
        "ERRORS",
    ]);
    for s in status.scopes.values() {
        table.add_row([
            name_of(&s.account_id),
            s.region.clone(),
            s.service.clone(),
            s.last_success.map(ago).unwrap_or_else(|| "never".into()),
            format!("{:.1} s", s.duration_ms as f64 / 1e3),
            s.found.to_string(),
            s.added.to_string(),
            s.updated.to_string(),
            s.removed.to_string(),
            format!("{:.0}%", s.iam_success_rate() * 100.0),
            s.errors.join("; "),
        ]);
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

fn humanize(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86400),
    }
}
