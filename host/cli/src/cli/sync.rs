//! `cloudops sync` and `cloudops status`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Args;
use cloudops_host::aws::{self, iam, AwsClient, HttpTransport, RequestStats};
use cloudops_host::config::{AccountConfig, Config};
use cloudops_host::estate::Estate;
use cloudops_host::paths;
use cloudops_host::plugin::{self, CodeCache, Limits, Plugin, PluginEngine};
use cloudops_host::scan::status::{RunMarker, ScopeStatus, SyncStatus};
use cloudops_host::scan::sync::{self, Event, SyncAccount, SyncOptions, SyncReport};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use indicatif::{ProgressBar, ProgressStyle};

use cloudops_host::local;

/// Exit status of a sync that ran but where some account, region or service failed.
pub const EXIT_PARTIAL: u8 = 3;

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 everything synced; 1 nothing could be synced (every \
account or scope failed) or another error; 2 usage error; 3 completed with failures (some \
accounts, regions or services failed, or a large removal was held back; the rest was synced). \
`cloudops status` shows each failure and what to do about it."
)]
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
    /// Remove resources a complete scan no longer saw even when that is more than half of
    /// an account/region/service's records (otherwise: asked on a terminal, kept elsewhere).
    #[arg(long)]
    allow_mass_delete: bool,
    /// Print the outcome as one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: SyncArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load_for(data_dir).map_err(anyhow::Error::msg)?;
    let plugins = load_plugins(data_dir, select_services(&args.services, &config))?;
    let stats = Arc::new(RequestStats::default());
    let (accounts, failed) = accounts(&args, &config, &stats).await?;
    let local = local::open(data_dir, &config)?;
    eprintln!(
        "syncing {} account(s) with {} plugin(s) into the {} (sealing key: {})",
        accounts.len() + failed.len(),
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
        allow_mass_delete: args.allow_mass_delete,
    };
    let estate = local.estate.clone();
    let mut report = run_sync(accounts, failed, plugins, local.estate, options, data_dir).await?;
    if !report.held.is_empty() && !args.json && confirm_possible() {
        confirm_held(&mut report, &estate, data_dir)?;
    }
    print_report(&report, args.json)?;
    eprintln!("{}", stats.snapshot().summary());
    if !report.is_total_failure() {
        super::backup::after_sync(data_dir).await;
    }
    Ok(exit_code(&report))
}

/// 0 when clean, 1 when nothing could be synced, [`EXIT_PARTIAL`] in between.
pub fn exit_code(report: &SyncReport) -> ExitCode {
    if report.is_clean() {
        ExitCode::SUCCESS
    } else if report.is_total_failure() {
        ExitCode::FAILURE
    } else {
        ExitCode::from(EXIT_PARTIAL)
    }
}

/// Runs a sync with progress on stderr and records its status in the data dir, with the
/// accounts that could not even be set up (`failed`: name and error) as failed accounts.
pub async fn run_sync(
    accounts: Vec<SyncAccount>,
    failed: Vec<(String, String)>,
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
    let report = cloudops_host::scan::sync_recorded(
        accounts, failed, plugins, estate, options, data_dir, events,
    )
    .await
    .map_err(anyhow::Error::msg);
    progress.finish();
    let report = report?;
    if let Some(e) = &report.unpublished {
        eprintln!(
            "warning: this sync's changes are stored, but searches still see the state before \
             it: {e}"
        );
    }
    Ok(report)
}

/// Whether the user can be asked: both stdin and stderr are terminals.
fn confirm_possible() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks, scope by scope, whether held-back removals may go ahead; applies the confirmed
/// ones and records them in the status.
fn confirm_held(report: &mut SyncReport, estate: &Estate, data_dir: &Path) -> anyhow::Result<()> {
    let mut status = SyncStatus::load(data_dir).map_err(anyhow::Error::msg)?;
    for held in std::mem::take(&mut report.held) {
        let scope = held.scope();
        eprint!(
            "{scope}: the scan no longer saw {} of the {} stored resources. Remove them? [y/N] ",
            held.stale(),
            held.total
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("{scope}: kept");
            report.held.push(held);
            continue;
        }
        let removed = held.apply(estate).map_err(anyhow::Error::msg)?;
        eprintln!("{scope}: removed {removed}");
        for s in report
            .scopes
            .iter_mut()
            .chain(status.scopes.get_mut(&scope))
        {
            if s.account_id == held.account_id
                && s.region == held.region
                && s.service == held.service
            {
                s.removed = removed;
                s.held_back = 0;
                s.errors.retain(|e| !e.contains("--allow-mass-delete"));
            }
        }
    }
    status.save(data_dir).map_err(anyhow::Error::msg)
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
        out!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "duration_ms": report.duration.as_millis() as u64,
                "accounts": report.accounts,
                "failed_accounts": report.failed_accounts.iter().map(|(name, error)| serde_json::json!({"name": name, "error": error})).collect::<Vec<_>>(),
                "scopes": report.scopes,
                "held_back": report.held.iter().map(|h| serde_json::json!({"scope": h.scope(), "stale": h.stale(), "total": h.total})).collect::<Vec<_>>(),
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
                "; {failed} scopes and {} accounts had errors (see above, or `cloudops status`: \
                 it says what to do)",
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
/// credentials; and those that could not be set up (credentials, AssumeRole), by name
/// with the reason. One account's failure never stops the others.
async fn accounts(
    args: &SyncArgs,
    config: &Config,
    stats: &Arc<RequestStats>,
) -> anyhow::Result<(Vec<SyncAccount>, Vec<(String, String)>)> {
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
    // Wrong region names are a mistake in the command or the config, not an account's
    // failure: refuse them all before anything runs.
    let cli_regions = aws::regions::checked_regions(&args.regions).map_err(anyhow::Error::msg)?;
    let mut checked = Vec::new();
    for entry in entries {
        let regions = aws::regions::checked_regions(&entry.regions)
            .map_err(|e| anyhow::anyhow!("account `{}` in the config: {e}", entry.name))?;
        checked.push((entry, regions));
    }
    let transport = Arc::new(HttpTransport::new()?);
    let mut accounts = Vec::new();
    let mut failed = Vec::new();
    for (entry, regions) in checked {
        let setup = async {
            let regions = if !cli_regions.is_empty() {
                cli_regions.clone()
            } else if !regions.is_empty() {
                regions
            } else {
                let region = super::scan::default_region(entry.profile.as_deref()).await?;
                aws::regions::checked_regions(&[region]).map_err(anyhow::Error::msg)?
            };
            let credentials = match (config.base_credentials(), &entry.profile) {
                (Some(example), None) => example,
                _ => aws::load_credentials(entry.profile.as_deref())
                    .await
                    .context("loading its credentials")?,
            };
            let mut client = AwsClient::new(credentials, config.endpoints(), transport.clone())
                .with_stats(stats.clone());
            if let Some(role) = &entry.role_arn {
                client = iam::assume_role(&client, &regions[0], role, "cloudops-sync")
                    .await
                    .with_context(|| format!("assuming {role}"))?;
            }
            anyhow::Ok((client, regions))
        };
        match setup.await {
            Ok((client, regions)) => accounts.push(SyncAccount {
                name: entry.name,
                client,
                regions,
            }),
            Err(e) => failed.push((entry.name, format!("{e:#}"))),
        }
    }
    Ok((accounts, failed))
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// Shows the last sync of every (account, region, service) and where the estate lives.
pub fn status(args: StatusArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load_for(data_dir).map_err(anyhow::Error::msg)?;
    let status = SyncStatus::load(data_dir).map_err(anyhow::Error::msg)?;
    let location = local::location(data_dir, &config);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let ago = |t: i64| humanize(now - t);
    let unfinished = RunMarker::load(data_dir);
    let unfinished_line = unfinished.as_ref().map(|(marker, running)| {
        let when = if marker.started > 0 {
            format!(
                "{} ({})",
                ago(marker.started),
                cloudops_host::estate::utc(marker.started)
            )
        } else {
            "at an unknown time".to_owned()
        };
        if *running {
            format!(
                "a sync is running: started {when} by process {}",
                marker.pid
            )
        } else {
            format!(
                "the last sync, started {when}, was interrupted before it finished (killed or \
                 crashed): what it stored is kept, but scopes below may be from an earlier \
                 sync and removals may be missing. Run `cloudops sync` again"
            )
        }
    });
    if args.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "store": local::describe(&location),
                "sync_running": unfinished.as_ref().map(|(m, running)| serde_json::json!({
                    "started": m.started, "pid": m.pid, "running": running,
                    "interrupted": !running,
                })),
                "failed_accounts": status.failed_accounts.values().collect::<Vec<_>>(),
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
    out!("store: {}", local::describe(&location));
    if let Some(line) = &unfinished_line {
        out!("{line}");
    }
    for failed in status.failed_accounts.values() {
        out!(
            "account {} could not be synced ({}): {}\n  what to do: {}",
            failed.name,
            ago(failed.at),
            failed.error,
            failed.advice
        );
    }
    if status.scopes.is_empty() {
        if unfinished.is_none() && status.failed_accounts.is_empty() {
            out!("nothing synced yet: run `cloudops sync` (or `cloudops demo`)");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name_of = |id: &str| {
        status
            .accounts
            .get(id)
            .map(|a| format!("{} ({id})", a.name))
            .unwrap_or_else(|| id.to_owned())
    };
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
    out!("{table}");
    if status.scopes.values().any(|s| !s.errors.is_empty()) {
        out!(
            "Scopes with errors keep what they stored and removed nothing they did not see. Fix \
             the cause (permissions, network, throttling: `cloudops sync -vv` shows each \
             request), then run `cloudops sync` again; `--service`/`--region` narrow it."
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn humanize(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86400),
    }
}
