//! `cloudops plugin ...`

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use cloudops_host::plugin::gate::Grant;
use cloudops_host::plugin::limits::clean_text;
use cloudops_host::plugin::manifest::CapabilitySpec;
use cloudops_host::plugin::trust::{TrustStatus, TrustStore};
use cloudops_host::plugin::{
    self, build, replay, template, CodeCache, Limits, Plugin, PluginEngine, PluginFiles,
    MANIFEST_FILE,
};
use cloudops_host::{aws, paths};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Build scanner crates into plugin folders (component + plugin.toml with its sha256).
    ///
    /// DIR is a scanner crate (it has a plugin.toml), or a folder of them such as
    /// `plugins/`, whose every scanner crate is built. The results go to the plugin
    /// directory (<data dir>/plugins), where `cloudops scan` finds them, and are trusted:
    /// building source you chose is accepting it. Cargo runs without your environment (no
    /// AWS_* variables, a scratch HOME) and, where bubblewrap works, cannot see the data
    /// dir or ~/.aws.
    Build {
        /// Scanner crates, or folders holding them.
        #[arg(default_value = ".")]
        dirs: Vec<PathBuf>,
        /// Where the built plugin folders go.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Create a new scanner crate from the template, ready to build.
    ///
    /// Example: `cloudops plugin new elb` creates ./elb with a working scanner (EC2 key
    /// pairs) to rename and change; then `cloudops plugin build elb`.
    New {
        /// Plugin name: lowercase letters, digits and '-'.
        name: String,
        /// Where to create it [default: ./NAME].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The scanner SDK (plugins/sdk of a cloudops checkout) [env: CLOUDOPS_SDK_DIR].
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Replay a scanner crate's recorded cases with no network and check what it emits.
    ///
    /// Builds DIR, then for each case in DIR/tests/replay/*/ answers the plugin's requests
    /// from exchanges.json and compares the emitted resources with expected.json. Reports
    /// fuel, peak memory and requests per case.
    Test {
        /// The scanner crate.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Record a replay case by scanning a live endpoint (AWS, or an emulator through
    /// AWS_ENDPOINT_URL) with the usual credentials.
    ///
    /// Responses are saved as they came: do not commit cases recorded from a real
    /// account you would not publish.
    Record {
        /// The scanner crate.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Region to scan.
        #[arg(long)]
        region: String,
        /// Case name (folder under DIR/tests/replay/).
        #[arg(long, default_value = "default")]
        case: String,
        /// AWS profile.
        #[arg(long, env = "AWS_PROFILE")]
        profile: Option<String>,
        /// Plugin setting KEY=VALUE; repeat for several.
        #[arg(long = "setting", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
    },
    /// Review an installed plugin (name, version, folder, component hash, services and
    /// operations it may call) and accept it as it is now. No plugin runs until trusted.
    Trust {
        /// Plugin name.
        name: String,
        /// Trust without asking (needed when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// List installed plugins, verifying each (hash, WIT version, manifest, trust).
    /// Untrusted plugins are shown from their manifest; none of their code runs.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: PluginCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::New { name, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let files = template::create(&name, &dir, sdk.as_deref())?;
            for f in &files {
                eprintln!("created {}", f.display());
            }
            eprintln!(
                "next: edit {0}/src/lib.rs and {0}/plugin.toml, then `cloudops plugin build {0}`",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Test { dir } => test_cases(&dir, data_dir).await,
        PluginCommand::Record {
            dir,
            region,
            case,
            profile,
            settings,
        } => {
            let plugin = build_for_dev(&dir, data_dir)?;
            let credentials = aws::load_credentials(profile.as_deref()).await?;
            let endpoints = aws::Endpoints::from_env();
            let probe = aws::AwsClient::new(
                credentials.clone(),
                endpoints.clone(),
                Arc::new(aws::HttpTransport::new()?),
            );
            let account_id = probe
                .account_id(&region)
                .await
                .context("identifying the account (STS GetCallerIdentity)")?;
            let info = replay::CaseInfo {
                account_id,
                region,
                settings,
            };
            let recorded = replay::record_case(&plugin, credentials, endpoints, info).await?;
            let case_dir = dir.join("tests/replay").join(&case);
            recorded.save(&case_dir)?;
            eprintln!(
                "recorded {} requests and {} resources into {}",
                recorded.exchanges.len(),
                recorded.expected.len(),
                case_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Build { dirs, out } => {
            let installing = out.is_none();
            let out = out.unwrap_or_else(|| data_dir.join("plugins"));
            let crates = scanner_crates(&dirs)?;
            let mut trust = TrustStore::open(&paths::trust_file(data_dir))?;
            let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))?;
            let mut failed = false;
            for dir in &crates {
                eprintln!("building {} ...", dir.display());
                match build::build_plugin(dir, &out, data_dir) {
                    Ok(built) => {
                        eprintln!(
                            "built `{}` {} ({} KiB) -> {}",
                            built.manifest.name,
                            built.manifest.version,
                            built.component_bytes.div_ceil(1024),
                            built.dir.display()
                        );
                        // Installing what you just built from source you named is
                        // accepting it; a build into --out installs nothing.
                        if installing {
                            trust_and_load(&mut trust, &engine, built.files)?;
                        }
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("error: {e}");
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        PluginCommand::Trust { name, yes } => {
            let roots = paths::plugin_roots(data_dir);
            let dir = plugin::find(&roots, &name)
                .with_context(|| format!("no plugin `{name}` is installed"))?;
            let files = PluginFiles::read(&dir)?;
            let mut trust = TrustStore::open(&paths::trust_file(data_dir))?;
            let mut err = std::io::stderr().lock();
            describe_plugin(&mut err, &files, trust.status(&files))?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    anyhow::bail!(
                        "not trusting `{name}`: there is no terminal to ask on; review the \
                         above and pass --yes to trust it"
                    );
                }
                write!(err, "Trust this plugin? [y/N] ")?;
                err.flush()?;
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
                    eprintln!(
                        "nothing changed: {} is as it was",
                        paths::trust_file(data_dir).display()
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
            trust.trust(files)?;
            eprintln!("trusting `{name}` from {} as it is now", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::List { json: json_out } => {
            let roots = paths::plugin_roots(data_dir);
            let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))?;
            let trust = TrustStore::open(&paths::trust_file(data_dir))?;
            let mut rows = Vec::new();
            for dir in plugin::discover(&roots) {
                let files = match PluginFiles::read(&dir) {
                    Ok(files) => files,
                    Err(e) => {
                        rows.push(json!({ "dir": dir, "ok": false, "trusted": false, "error": e.to_string() }));
                        continue;
                    }
                };
                let m = files.manifest().clone();
                let status = trust.status(&files);
                let mut row = json!({
                    "name": m.name, "version": m.version.to_string(), "wit": m.wit.to_string(),
                    "services": m.capabilities.services,
                    "actions": m.capabilities.actions.clone().unwrap_or_else(|| m.capabilities.services.iter().flat_map(|s| ["Describe*", "List*", "Get*"].map(|a| format!("{s}:{a}"))).collect()),
                    "component_sha256": files.component_sha256(),
                    "dir": dir, "trusted": status == TrustStatus::Trusted, "ok": true, "error": null,
                });
                // Only a trusted plugin is compiled and asked to describe itself; an
                // untrusted one is shown from its manifest alone.
                let outcome = trust
                    .check(files)
                    .and_then(|t| Plugin::load(&engine, t, Limits::default()));
                if let Err(e) = outcome {
                    row["ok"] = json!(false);
                    row["error"] = json!(e.to_string());
                }
                rows.push(row);
            }
            if json_out {
                out!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                eprintln!(
                    "no plugins in {}; build some with `cloudops plugin build plugins/`",
                    roots
                        .iter()
                        .map(|r| r.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            } else {
                for row in &rows {
                    if row["ok"] == false && row["trusted"] == false && row["name"].is_string() {
                        out!(
                            "UNTRUSTED {} {} (wit {}) services={} actions={} in {}: {}",
                            row["name"].as_str().unwrap_or(""),
                            row["version"].as_str().unwrap_or(""),
                            row["wit"].as_str().unwrap_or(""),
                            row["services"],
                            row["actions"],
                            row["dir"].as_str().unwrap_or(""),
                            row["error"].as_str().unwrap_or("")
                        );
                    } else if row["ok"] == true {
                        out!(
                            "{} {} (wit {}) services={} actions={} [sha256 ok]",
                            row["name"].as_str().unwrap_or(""),
                            row["version"].as_str().unwrap_or(""),
                            row["wit"].as_str().unwrap_or(""),
                            row["services"],
                            row["actions"]
                        );
                    } else {
                        out!(
                            "REFUSED {}: {}",
                            row["dir"].as_str().unwrap_or(""),
                            row["error"].as_str().unwrap_or("")
                        );
                    }
                }
            }
            Ok(if rows.iter().all(|r| r["ok"] == true) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Builds the crate in `dir` into a scratch folder of the data dir (not the plugin
/// directory: a plugin under test is not installed) and loads it, trusted for this run
/// only: the user pointed at its source to run it.
fn build_for_dev(dir: &Path, data_dir: &Path) -> anyhow::Result<Plugin> {
    let out = data_dir.join("dev-builds");
    let built = build::build_plugin(dir, &out, data_dir)?;
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))?;
    trust_and_load(&mut TrustStore::in_memory(), &engine, built.files)
}

/// Trusts plugin files just built from source the user named, then loads them: the one
/// path by which a build is accepted.
fn trust_and_load(
    trust: &mut TrustStore,
    engine: &PluginEngine,
    files: PluginFiles,
) -> anyhow::Result<Plugin> {
    let trusted = trust.trust(files)?;
    Ok(Plugin::load(engine, trusted, Limits::default())?)
}

/// What `plugin trust` shows before asking: everything the decision rests on, all from the
/// manifest and hashes (no plugin code runs to produce it).
fn describe_plugin(
    out: &mut impl Write,
    files: &PluginFiles,
    status: TrustStatus,
) -> std::io::Result<()> {
    let m = files.manifest();
    writeln!(out, "plugin     {} {}", m.name, m.version)?;
    if !m.description.is_empty() {
        writeln!(out, "           {}", clean(&m.description))?;
    }
    writeln!(out, "folder     {}", files.dir().display())?;
    let file = m.component.as_ref().map(|c| c.file.as_str()).unwrap_or("");
    writeln!(
        out,
        "component  {file}, sha256 {}",
        files.component_sha256()
    )?;
    writeln!(out, "wit        cloudops:scanner@{}", m.wit)?;
    writeln!(
        out,
        "status     {}",
        match status {
            TrustStatus::Trusted => "already trusted as it is".to_owned(),
            TrustStatus::Unknown => "never trusted".to_owned(),
            TrustStatus::Changed(what) => format!("its {what} changed since it was trusted"),
        }
    )?;
    writeln!(out, "services   {}", m.capabilities.services.join(", "))?;
    writeln!(out, "it may call:")?;
    describe_grant(out, &m.capabilities)
}

/// What the manifest grants, as the gate will apply it: the patterns as written, how many
/// operations they come to, and every sensitive operation with why it is sensitive.
fn describe_grant(out: &mut impl Write, caps: &CapabilitySpec) -> std::io::Result<()> {
    let grant = match Grant::new(caps, Limits::default().request_caps()) {
        Ok(grant) => grant,
        Err(e) => return writeln!(out, "  cannot be granted: {}", clean(&e.to_string())),
    };
    match &caps.actions {
        Some(actions) => {
            for action in actions {
                writeln!(out, "  {}", clean(action))?;
            }
        }
        None => writeln!(
            out,
            "  the default: every non-sensitive Describe* and List* operation of its services"
        )?,
    }
    let ops: Vec<_> = grant.operations().collect();
    writeln!(out, "  = {} read operations; no writes", ops.len())?;
    for (op, why) in ops {
        if let Some(why) = why {
            writeln!(out, "  SENSITIVE {op}: {why}")?;
        }
    }
    Ok(())
}

/// A manifest string with control characters replaced, safe to print on a terminal.
fn clean(s: &str) -> String {
    clean_text(s, 512)
}

async fn test_cases(dir: &Path, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let root = dir.join("tests").join("replay");
    let cases = replay::Case::discover(&root);
    if cases.is_empty() {
        anyhow::bail!(
            "no cases in {}: record one with `cloudops plugin record {} --region REGION`",
            root.display(),
            dir.display()
        );
    }
    let plugin = build_for_dev(dir, data_dir)?;
    let mut failed = 0;
    for case_dir in &cases {
        let name = case_dir.file_name().unwrap_or_default().to_string_lossy();
        let case = replay::Case::load(case_dir)?;
        let outcome = replay::replay_case(&plugin, &case).await;
        match (&outcome.result, &outcome.mismatch) {
            (Ok(r), None) => out!(
                "ok      {name}: {} resources, {} requests, {} fuel, {} KiB peak memory, {:.1} ms",
                r.resources,
                r.requests,
                r.fuel_used,
                r.peak_memory_bytes / 1024,
                r.duration.as_secs_f64() * 1e3
            ),
            (Ok(_), Some(diff)) => {
                failed += 1;
                out!("FAILED  {name}: {diff}");
            }
            (Err(e), _) => {
                failed += 1;
                out!("FAILED  {name}: {e}");
            }
        }
    }
    out!("{} passed, {failed} failed", cases.len() - failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_setting(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

/// Each dir that is a scanner crate, or the scanner crates directly inside it.
fn scanner_crates(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut crates = Vec::new();
    for dir in dirs {
        if dir.join(MANIFEST_FILE).is_file() && dir.join("Cargo.toml").is_file() {
            crates.push(dir.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(MANIFEST_FILE).is_file() && p.join("Cargo.toml").is_file())
            .collect();
        if found.is_empty() {
            anyhow::bail!(
                "{} is not a scanner crate (no plugin.toml and Cargo.toml) and holds none",
                dir.display()
            );
        }
        found.sort();
        crates.extend(found);
    }
    Ok(crates)
}
