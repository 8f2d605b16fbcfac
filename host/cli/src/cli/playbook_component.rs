//! `cloudops playbook new`, `build` and `run`: the dev kit for playbook components
//! (playbooks/COMPONENTS.md), beside `playbook check` and `playbook test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use cloudops_host::aws;
use cloudops_host::plugin::build::build_component;
use cloudops_host::plugin::playbook::{finish_plan, template, Component};
use cloudops_host::plugin::{CodeCache, Limits, PluginEngine};
use cloudops_playbook::library::COMPONENT_FILE;
use cloudops_playbook::plan::{Plan, ResourceContext};
use cloudops_playbook::planning::{self, Selection};
use cloudops_playbook::{Library, Playbook};
use serde_json::{Map, Value};

/// The component subcommands of `cloudops playbook`.
#[derive(Debug, Subcommand)]
pub enum ComponentCommand {
    /// Create a playbook with a component: DIR/NAME.yaml and its crate DIR/NAME/.
    ///
    /// Example: `cloudops playbook new reboot-web --dir playbooks/ec2` writes a playbook
    /// that checks as it is and a component that keeps the YAML's steps; change both, then
    /// `cloudops playbook build playbooks`.
    New {
        /// Name: lowercase letters, digits and '-'. The playbook's id is `custom.NAME`.
        name: String,
        /// The library folder to create it in.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// The playbook SDK (plugins/playbook-sdk of a cloudops checkout)
        /// [env: CLOUDOPS_PLAYBOOK_SDK_DIR].
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Build every component of a playbook library, each into its crate folder's
    /// component.wasm, and check that it loads as a playbook component.
    ///
    /// Cargo runs as for `cloudops plugin build`: without your environment and, where
    /// bubblewrap works, unable to see the data dir or ~/.aws.
    Build {
        /// The library folder (`playbooks/`).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Plan a component playbook over resources and finish the plan with its built
    /// component, against AWS (or the emulator in AWS_ENDPOINT_URL); prints the plan JSON.
    ///
    /// Example: `cloudops playbook run playbooks vpc.close-world-open-ports --resources
    /// sg.json`, where sg.json is a list of identified resources as the plan request
    /// carries them.
    Run {
        /// The library folder (`playbooks/`), built with `cloudops playbook build`.
        dir: PathBuf,
        /// The playbook's id.
        id: String,
        /// A JSON file with the identified resources (a list of resource contexts).
        #[arg(long, value_name = "FILE")]
        resources: PathBuf,
        /// The user's values as a JSON object (`{"snapshot_date": "20261206"}`).
        #[arg(long, value_name = "JSON", default_value = "{}")]
        values: String,
        /// The AWS profile whose credentials the component's reads use.
        #[arg(long)]
        profile: Option<String>,
    },
}

/// Runs a component subcommand.
pub async fn run(cmd: ComponentCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        ComponentCommand::New { name, dir, sdk } => {
            let files = template::create(&name, &dir, sdk.as_deref())?;
            for f in &files {
                eprintln!("created {}", f.display());
            }
            eprintln!(
                "next: edit {0}/{1}.yaml and {0}/{1}/src/lib.rs, then `cloudops playbook build {0}`",
                dir.display(),
                name
            );
            Ok(ExitCode::SUCCESS)
        }
        ComponentCommand::Build { dir } => build_library(&dir, data_dir),
        ComponentCommand::Run {
            dir,
            id,
            resources,
            values,
            profile,
        } => {
            let library = load_library(&dir)?;
            let playbook = library
                .get(&id)
                .with_context(|| format!("no playbook `{id}` in {}", dir.display()))?;
            let text = std::fs::read_to_string(&resources)
                .with_context(|| format!("reading {}", resources.display()))?;
            let targets: Vec<ResourceContext> = serde_json::from_str(&text)
                .with_context(|| format!("{}: a JSON list of resources", resources.display()))?;
            let values: Map<String, Value> =
                serde_json::from_str(&values).context("--values: a JSON object")?;
            let selection = Selection {
                commit: "worktree",
                prompt: "",
                targets: &targets,
                user_values: &values,
            };
            let base = planning::plan(playbook, selection);
            let client = aws_client(profile.as_deref()).await?;
            let plan =
                finish_with_component(&library, playbook, selection, &base, &client, data_dir)?;
            out!("{}", serde_json::to_string_pretty(&plan)?);
            Ok(if plan.runnable {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Finishes `base` (the YAML's plan of `playbook` for `selection`) with the playbook's
/// built component, its reads sent with `client`: `playbook run`, and `playbook test` for
/// the cases of component playbooks when an emulator is given. A playbook without a
/// component keeps its plan. Must run on a multi-threaded runtime (it blocks in place).
pub fn finish_with_component(
    library: &Library,
    playbook: &Playbook,
    selection: Selection<'_>,
    base: &Plan,
    client: &aws::AwsClient,
    data_dir: &Path,
) -> anyhow::Result<Plan> {
    if playbook.component.is_none() {
        return Ok(base.clone());
    }
    let bytes = library.component(playbook).with_context(|| {
        format!(
            "the component of `{}` is not built: run `cloudops playbook build` on its library",
            playbook.id
        )
    })?;
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))?;
    let component = Component::load(&engine, &playbook.id, bytes, Limits::default())?;
    let handle = tokio::runtime::Handle::current();
    let clients = |_: &str| Ok(client.clone());
    let (plan, report) = tokio::task::block_in_place(|| {
        finish_plan(&component, playbook, selection, base, &clients, &handle)
    })?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    eprintln!(
        "component of `{}`: {} run(s), {} AWS request(s), {} fuel, peak memory {} KiB",
        playbook.id,
        report.runs,
        report.requests,
        report.fuel_used,
        report.peak_memory_bytes.div_ceil(1024)
    );
    Ok(plan)
}

/// Credentials from `profile` (or the default chain) and endpoints from the environment.
async fn aws_client(profile: Option<&str>) -> anyhow::Result<aws::AwsClient> {
    let credentials = aws::load_credentials(profile).await?;
    Ok(aws::AwsClient::new(
        credentials,
        aws::Endpoints::from_env(),
        Arc::new(aws::HttpTransport::new()?),
    ))
}

fn load_library(dir: &Path) -> anyhow::Result<Library> {
    Library::load_dir(dir).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        anyhow::anyhow!(
            "{} has {} errors; fix them (`cloudops playbook check {}`) first",
            dir.display(),
            errors.len(),
            dir.display()
        )
    })
}

fn build_library(dir: &Path, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let library = load_library(dir)?;
    let engine = PluginEngine::new(Some(CodeCache::in_data_dir(data_dir)))?;
    let mut failed = false;
    let mut built = 0;
    for playbook in library.playbooks() {
        let Some(relative) = library.component_dir(playbook) else {
            continue;
        };
        let crate_dir = dir.join(&relative);
        let out = crate_dir.join(COMPONENT_FILE);
        eprintln!("building {} ...", crate_dir.display());
        let loaded = build_component(&crate_dir, &out, data_dir)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| {
                Component::load(&engine, &playbook.id, &bytes, Limits::default())?;
                Ok(bytes.len())
            });
        match loaded {
            Ok(bytes) => {
                built += 1;
                eprintln!(
                    "built the component of `{}` ({} KiB) -> {}",
                    playbook.id,
                    bytes.div_ceil(1024),
                    out.display()
                );
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {e:#}");
            }
        }
    }
    if built == 0 && !failed {
        eprintln!("no playbook in {} names a component", dir.display());
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
