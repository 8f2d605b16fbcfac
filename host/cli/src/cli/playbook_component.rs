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
use cloudops_host::plugin::{replay, CodeCache, Limits, PluginEngine};
use cloudops_playbook::cases::{self, Case, Expect};
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
    Run(PlanInputs),
    /// Record a test case of a component playbook: `run` it, then save the component's AWS
    /// reads and what the finished plan says as DIR/tests/replay/CASE/, which `cloudops
    /// playbook test` replays with no network.
    ///
    /// Example: `cloudops playbook record playbooks vpc.close-world-open-ports --resources
    /// sg.json --case two-open-ports`.
    ///
    /// Review the `expect` of case.json before committing it: it states what the plan said,
    /// which is right only if the component was. Responses are saved as they came: do not
    /// commit a case recorded from an account you would not publish.
    Record {
        /// The case's name: its folder under DIR/tests/replay/.
        #[arg(long)]
        case: String,
        /// The prompt stored with the case (user values may be read from it).
        #[arg(long, default_value = "")]
        prompt: String,
        #[command(flatten)]
        inputs: PlanInputs,
    },
}

/// What `run` and `record` plan.
#[derive(Debug, clap::Args)]
pub struct PlanInputs {
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
}

/// Where a library keeps the recorded cases of its component playbooks.
const REPLAY_DIR: &str = "tests/replay";

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
        ComponentCommand::Run(inputs) => {
            let (library, targets, values) = inputs.read()?;
            let playbook = inputs.playbook(&library)?;
            let selection = Selection {
                commit: "worktree",
                prompt: "",
                targets: &targets,
                user_values: &values,
            };
            let base = planning::plan(playbook, selection);
            let credentials = aws::load_credentials(inputs.profile.as_deref()).await?;
            let client = aws::AwsClient::new(
                credentials,
                aws::Endpoints::from_env(),
                Arc::new(aws::HttpTransport::new()?),
            );
            let plan =
                finish_with_component(&library, playbook, selection, &base, &client, data_dir)?;
            out!("{}", serde_json::to_string_pretty(&plan)?);
            Ok(if plan.runnable {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ComponentCommand::Record {
            case,
            prompt,
            inputs,
        } => record(&case, &prompt, &inputs, data_dir).await,
    }
}

impl PlanInputs {
    /// The library, the resources and the user's values, read and checked.
    fn read(&self) -> anyhow::Result<(Library, Vec<ResourceContext>, Map<String, Value>)> {
        let library = load_library(&self.dir)?;
        let text = std::fs::read_to_string(&self.resources)
            .with_context(|| format!("reading {}", self.resources.display()))?;
        let targets: Vec<ResourceContext> = serde_json::from_str(&text)
            .with_context(|| format!("{}: a JSON list of resources", self.resources.display()))?;
        let values: Map<String, Value> =
            serde_json::from_str(&self.values).context("--values: a JSON object")?;
        Ok((library, targets, values))
    }

    fn playbook<'a>(&self, library: &'a Library) -> anyhow::Result<&'a Playbook> {
        library
            .get(&self.id)
            .with_context(|| format!("no playbook `{}` in {}", self.id, self.dir.display()))
    }
}

/// `cloudops playbook record`: the component's reads and its finished plan, as a case.
async fn record(
    name: &str,
    prompt: &str,
    inputs: &PlanInputs,
    data_dir: &Path,
) -> anyhow::Result<ExitCode> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        anyhow::bail!("--case `{name}`: use letters, digits, '-' and '_' (it names a folder)");
    }
    let (library, resources, user_values) = inputs.read()?;
    let playbook = inputs.playbook(&library)?;
    if playbook.component.is_none() {
        anyhow::bail!(
            "`{}` has no component: its cases go in {}/tests/{}.json (`cloudops playbook test`)",
            playbook.id,
            inputs.dir.display(),
            playbook.id
        );
    }
    let credentials = aws::load_credentials(inputs.profile.as_deref()).await?;
    let (client, recorder) = replay::recording_client(credentials, aws::Endpoints::from_env())?;
    let mut case = Case {
        name: name.to_owned(),
        playbook: playbook.id.clone(),
        prompt: prompt.to_owned(),
        resources,
        user_values,
        expect: Default::default(),
    };
    let selection = case.selection("worktree");
    let base = planning::plan(playbook, selection);
    let plan = finish_with_component(&library, playbook, selection, &base, &client, data_dir)?;
    case.expect = Expect::of(&plan);
    let folder = inputs.dir.join(REPLAY_DIR).join(name);
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    write_json(
        &folder.join("case.json"),
        serde_json::to_string_pretty(&case)?,
    )?;
    let exchanges = serde_json::to_string_pretty(&recorder.exchanges())?;
    write_json(&folder.join("exchanges.json"), exchanges)?;
    eprintln!(
        "recorded {} request(s) and the plan's {} step(s) in {}: review case.json's `expect`, \
         then `cloudops playbook test {}`",
        recorder.exchanges().len(),
        plan.steps.len(),
        folder.display(),
        inputs.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_json(path: &Path, json: String) -> anyhow::Result<()> {
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// How the recorded cases of a library went.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Cases run.
    pub run: usize,
    /// Of those, failed (each printed with what differs).
    pub failed: usize,
}

/// Replays every case in DIR/tests/replay/: the YAML plans it, the component (built first,
/// as `plugin test` builds its scanner) finishes the plan with its AWS reads answered from
/// the recording, and the plan is compared with the case's `expect`. Must run on a
/// multi-threaded runtime.
pub fn replay_cases(dir: &Path, data_dir: &Path) -> anyhow::Result<Replayed> {
    let mut replayed = Replayed::default();
    let folders = replay::Case::discover(&dir.join(REPLAY_DIR));
    if folders.is_empty() {
        return Ok(replayed);
    }
    if build_library(dir, data_dir)? != ExitCode::SUCCESS {
        anyhow::bail!("the recorded cases need the components built, and a build failed");
    }
    // Loaded again: the library holds the component binaries it read.
    let library = load_library(dir)?;
    for folder in folders {
        replayed.run += 1;
        if let Err(why) = replay_one(&library, &folder, data_dir) {
            replayed.failed += 1;
            out!(
                "FAIL {}: {}",
                folder.display(),
                format!("{why:#}").replace("\n  ", "; ")
            );
        }
    }
    Ok(replayed)
}

fn replay_one(library: &Library, folder: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let (case_file, exchanges_file) = (folder.join("case.json"), folder.join("exchanges.json"));
    let case: Case = serde_json::from_str(&read_text(&case_file)?)
        .with_context(|| format!("{}: not a case", case_file.display()))?;
    let exchanges: Vec<replay::Exchange> = serde_json::from_str(&read_text(&exchanges_file)?)
        .with_context(|| format!("{}: not a list of exchanges", exchanges_file.display()))?;
    let playbook = library
        .get(&case.playbook)
        .with_context(|| format!("no playbook `{}` in the library", case.playbook))?;
    let selection = case.selection("worktree");
    let base = planning::plan(playbook, selection);
    let client = replay::replay_client(exchanges);
    let plan = finish_with_component(library, playbook, selection, &base, &client, data_dir)?;
    cases::check(plan, &case.expect).map_err(anyhow::Error::msg)?;
    Ok(())
}

/// Finishes `base` (the YAML's plan of `playbook` for `selection`) with the playbook's
/// built component, its reads sent with `client`: `playbook run` and `record` (a live or
/// recording client), and `playbook test` (a replaying one). A playbook without a
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
