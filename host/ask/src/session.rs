//! [`Session`]: one user's ask flow over one data dir, from prompt to re-scan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cloudops_aws::{Credentials, Endpoints};
use cloudops_estate::embed::Embedder;
use cloudops_estate::estate::Estate;
use cloudops_estate::store::seal::Sealer;
use cloudops_estate::store::{self, Location, StoreError};
use cloudops_execute::accounts::Accounts;
use cloudops_execute::approval::{unix_now, Approval, ApprovalBook, Given, DEFAULT_TTL};
use cloudops_execute::audit::AuditLog;
use cloudops_execute::engine::{Engine, ExecutionId, RunRequest, Runners, Strategy};
use cloudops_execute::events::{EventSink, RunOutcome};
use cloudops_playbook::plan::{
    Candidate, Clarify, Intent, IntentKind, Plan, PlanRequest, Risk, RiskLevel,
};
use cloudops_playbook::planning::Selection;
use cloudops_playbook::Library;
use cloudops_plugin_host::playbook::{finish_plan, Component};
use cloudops_plugin_host::{CodeCache, Limits, PluginEngine};
use cloudops_sync::status::SyncStatus;
use serde_json::Map;

use crate::accounts::{AccountAccess, Clients};
use crate::history::{self, Turn};
use crate::planner::{self, PlannerClient};
use crate::plans::{self, SavedPlan};
use crate::request::build_request;
use crate::rescan::{self, RescanReport};
use crate::resolve::{self, Resolution};
use crate::run::{self, RunFiles};
use crate::AskError;

/// How long to wait for the store's writer lock (held by a sync) before giving up.
const WRITER_WAIT: Duration = Duration::from_secs(10);

/// What a session needs: where things are and how to reach AWS and the planner. (Not
/// `Debug`: it may hold credentials.)
#[derive(Clone)]
pub struct Options {
    /// The data dir (store, key, plans, runs, approvals, audit log).
    pub data_dir: PathBuf,
    /// Where the estate store is (embedded in the data dir, or a Qdrant server).
    pub store: Location,
    /// The plan server's base URL; `None`: plan in process.
    pub server_url: Option<String>,
    /// The playbook library for the in-process planner and for component playbooks;
    /// `None`: [`planner::library_dir`]'s default.
    pub library_dir: Option<PathBuf>,
    /// The config's `[[accounts]]`; empty: the default credentials for every account.
    pub accounts: Vec<AccountAccess>,
    /// Where AWS requests go (the environment's `AWS_ENDPOINT_URL`, or an emulator).
    pub endpoints: Endpoints,
    /// Credentials used instead of the default chain for accounts without a profile (the
    /// demo's emulator keys); `None`: the default chain. Never written anywhere.
    pub base_credentials: Option<Credentials>,
    /// How long an approval lasts.
    pub approval_ttl: Duration,
    /// How often waiters read a target's state.
    pub poll: Duration,
    /// The conversation's name in the chat history (`cli` for the command line).
    pub chat_session: String,
}

impl Options {
    /// Options for `data_dir` with the embedded store, in-process planning, the default
    /// credentials and endpoints from the environment.
    pub fn new(data_dir: &Path) -> Options {
        Options {
            data_dir: data_dir.to_owned(),
            store: Location::Embedded(data_dir.join("store")),
            server_url: None,
            library_dir: None,
            accounts: Vec::new(),
            endpoints: Endpoints::from_env(),
            base_credentials: None,
            approval_ttl: DEFAULT_TTL,
            poll: Duration::from_secs(2),
            chat_session: "cli".into(),
        }
    }
}

/// A prompt, what it resolved to, the request sent and the plan that came back.
#[derive(Debug, Clone)]
pub struct Asked {
    /// What the prompt resolved to.
    pub resolution: Resolution,
    /// The request sent to the planner (`--show-request` prints it).
    pub request: PlanRequest,
    /// The plan, finished by its component when its playbook has one, and saved.
    pub plan: Plan,
    /// Where it came from (`plan server URL` or `planner in process`).
    pub planner: String,
}

/// One user's ask flow over one data dir. `Send + Sync`; share it in an `Arc`.
pub struct Session {
    options: Options,
    embedder: Arc<Embedder>,
    sealer: Arc<Sealer>,
    planner: tokio::sync::OnceCell<PlannerClient>,
    library: OnceLock<Option<Library>>,
    engine: Arc<Engine>,
    clients: Clients,
}

impl Session {
    /// Opens a session: loads the embedding model and the estate key (blocks).
    pub fn open(options: Options) -> Result<Session, AskError> {
        let (sealer, _) = Sealer::existing(&options.data_dir).map_err(|e| {
            AskError::Estate(format!(
                "{e}; sync first (`cloudops sync`) so there is an estate to ask about"
            ))
        })?;
        let embedder = Embedder::shared().map_err(|e| AskError::Estate(e.to_string()))?;
        let names = SyncStatus::load(&options.data_dir)
            .map(|s| {
                s.accounts
                    .values()
                    .map(|a| (a.id.clone(), a.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let clients = Clients::new(
            options.accounts.clone(),
            options.base_credentials.clone(),
            names,
            options.endpoints.clone(),
        )?;
        let engine = Engine::new(AuditLog::open(&options.data_dir), options.poll);
        Ok(Session {
            embedder,
            sealer: Arc::new(sealer),
            planner: tokio::sync::OnceCell::new(),
            library: OnceLock::new(),
            engine: Arc::new(engine),
            clients,
            options,
        })
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    /// The session's options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The estate as a reader sees it (never waits for a sync). Blocks.
    pub fn reader(&self) -> Result<Estate, AskError> {
        let store =
            store::open_reader(&self.options.store).map_err(|e| AskError::Estate(e.to_string()))?;
        Ok(Estate::new(
            Arc::from(store),
            self.embedder.clone(),
            self.sealer.clone(),
        ))
    }

    /// The estate as its writer, waiting up to 10 s for a running sync to let go. Blocks.
    pub fn writer(&self) -> Result<Estate, AskError> {
        let started = std::time::Instant::now();
        loop {
            match store::open(&self.options.store) {
                Ok(store) => {
                    return Ok(Estate::new(
                        Arc::from(store),
                        self.embedder.clone(),
                        self.sealer.clone(),
                    ))
                }
                Err(e @ StoreError::Open { .. }) if started.elapsed() < WRITER_WAIT => {
                    tracing::debug!("waiting for the store's writer: {e}");
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(AskError::Estate(e.to_string())),
            }
        }
    }

    /// Resolves `prompt` to resources in the estate (blocks).
    pub fn resolve(&self, prompt: &str) -> Result<Resolution, AskError> {
        let estate = self.reader()?;
        let accounts = SyncStatus::load(&self.options.data_dir)
            .map(|s| s.account_names())
            .unwrap_or_default();
        resolve::resolve(&estate, &accounts, prompt)
    }

    /// The planner (built on first use when planning in process: blocks for the library's
    /// embedding).
    pub async fn planner(&self) -> Result<&PlannerClient, AskError> {
        self.planner
            .get_or_try_init(|| async {
                match &self.options.server_url {
                    Some(url) => PlannerClient::server(url),
                    None => {
                        let dir = self.library_dir()?;
                        tokio::task::block_in_place(|| {
                            PlannerClient::in_process(&dir, self.embedder.clone(), self.data_dir())
                        })
                    }
                }
            })
            .await
    }

    fn library_dir(&self) -> Result<PathBuf, AskError> {
        planner::library_dir(self.options.library_dir.as_deref()).ok_or_else(|| {
            AskError::Planner(
                "no plan server configured and no playbook library found: set `[server] url` \
                 in config.toml (or CLOUDOPS_SERVER_URL), or CLOUDOPS_PLAYBOOKS_DIR to a \
                 playbooks/ folder"
                    .into(),
            )
        })
    }

    /// The local playbook library (for component playbooks), when there is one.
    pub fn library(&self) -> Option<&Library> {
        if let Some(Some(library)) = self.planner.get().map(|p| p.library()) {
            return Some(library);
        }
        self.library
            .get_or_init(|| {
                let dir = self.library_dir().ok()?;
                Library::load_dir(&dir).ok()
            })
            .as_ref()
    }

    /// The request for `prompt` over what it resolved to, with the recent chat.
    pub fn request(&self, prompt: &str, resolution: &Resolution) -> PlanRequest {
        let recent = self
            .reader()
            .and_then(|estate| {
                history::recent(
                    estate.store(),
                    &self.sealer,
                    Some(&self.options.chat_session),
                    history::RECENT,
                )
            })
            .unwrap_or_default();
        let mut user_context = Map::new();
        if let Some(region) = std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()) {
            user_context.insert("default_region".into(), region.into());
        }
        build_request(
            prompt,
            &resolution.resources,
            self.library(),
            user_context,
            recent.iter().map(Turn::chat).collect(),
        )
    }

    /// The whole ask up to the plan: resolve, request, plan, finish, save, and remember the
    /// prompt and the plan in the chat history. Nothing runs.
    pub async fn ask(&self, prompt: &str) -> Result<Asked, AskError> {
        let resolution = tokio::task::block_in_place(|| self.resolve(prompt))?;
        self.plan_for(prompt, resolution).await
    }

    /// [`Session::ask`] after its resolve: plans `prompt` over `resolution` — as resolved, or
    /// as the user trimmed it (the app lets them untick resources before planning).
    pub async fn plan_for(&self, prompt: &str, resolution: Resolution) -> Result<Asked, AskError> {
        let request = tokio::task::block_in_place(|| self.request(prompt, &resolution));
        let planner = self.planner().await?;
        let plan = if resolution.ambiguous.is_empty() {
            let plan = planner.plan(&request).await?;
            self.finish(&request, plan).await?
        } else {
            which_one(&resolution)
        };
        plans::save(
            self.data_dir(),
            &SavedPlan {
                prompt: prompt.to_owned(),
                at: unix_now(),
                plan: plan.clone(),
            },
        )?;
        let asked = Turn::now(&self.options.chat_session, "user", prompt);
        let mut said = Turn::now(
            &self.options.chat_session,
            "assistant",
            plan.explain.clone(),
        );
        said.plan_id = Some(plan.plan_id.clone());
        // The answer comes after the question, even within one millisecond.
        said.at = said.at.max(asked.at + 1);
        let turns = [asked, said];
        if let Err(e) = tokio::task::block_in_place(|| self.remember(&turns)) {
            tracing::warn!("the chat history was not saved: {e}");
        }
        Ok(Asked {
            resolution,
            request,
            plan,
            planner: planner.describe(),
        })
    }

    /// Finishes `plan` with its playbook's component, when it has one (a plan of another
    /// playbook is returned as it is). The component's reads use the target accounts' clients.
    pub async fn finish(&self, request: &PlanRequest, plan: Plan) -> Result<Plan, AskError> {
        let Some(reference) = plan.playbook.clone() else {
            return Ok(plan);
        };
        let library = tokio::task::block_in_place(|| self.library());
        let Some(playbook) = library.and_then(|l| l.get(&reference.id)) else {
            return Ok(plan);
        };
        if playbook.component.is_none() || !plan.runnable {
            return Ok(plan);
        }
        let bytes = library.and_then(|l| l.component(playbook)).ok_or_else(|| {
            AskError::Component(format!(
                "the component of `{}` is not built: run `cloudops playbook build` on its library",
                playbook.id
            ))
        })?;
        let targets: Vec<_> = request
            .identified_resources
            .iter()
            .filter(|r| playbook.applies_to.contains(&r.resource_type))
            .cloned()
            .collect();
        let mut clients = BTreeMap::new();
        for t in &targets {
            let (client, _) = self.clients.client(&t.account_id, &t.region).await?;
            clients.insert(t.account_id.clone(), client);
        }
        let lookup = |account: &str| {
            clients
                .get(account)
                .cloned()
                .ok_or_else(|| format!("no client for account {account}"))
        };
        let selection = Selection {
            commit: &reference.commit,
            prompt: &request.prompt,
            targets: &targets,
            user_values: &request.user_values,
        };
        let handle = tokio::runtime::Handle::current();
        let component_error = |e: String| AskError::Component(e);
        tokio::task::block_in_place(|| {
            let engine = PluginEngine::new(Some(CodeCache::in_data_dir(self.data_dir())))
                .map_err(|e| component_error(e.to_string()))?;
            let component = Component::load(&engine, &playbook.id, bytes, Limits::default())
                .map_err(|e| component_error(e.to_string()))?;
            finish_plan(&component, playbook, selection, &plan, &lookup, &handle)
                .map(|(plan, _)| plan)
                .map_err(|e| component_error(e.to_string()))
        })
    }

    /// A saved plan (`cloudops approve PLAN_ID`).
    pub fn saved(&self, plan_id: &str) -> Result<SavedPlan, AskError> {
        plans::load(self.data_dir(), plan_id)
    }

    /// Grants an approval of `plan` when `given` satisfies its risk tier.
    pub fn approve(&self, plan: &Plan, given: &Given) -> Result<Approval, AskError> {
        crate::approve::approve(self.data_dir(), plan, given, self.options.approval_ttl)
    }

    /// Consumes approval `approval_id` for `plan` and starts the run; returns its id at once.
    /// Events go to `sinks` and to the run's file; `cancel` from another process works.
    pub async fn execute(
        &self,
        plan: &Plan,
        approval_id: &str,
        sinks: Vec<Arc<dyn EventSink>>,
    ) -> Result<ExecutionId, AskError> {
        if !plan.is_intact() {
            return Err(cloudops_execute::approval::ApprovalError::PlanAltered(
                plan.plan_id.clone(),
            )
            .into());
        }
        // Every account's client first: a missing one fails before the approval is used.
        let mut accounts = Accounts::new();
        let mut principal = None;
        for step in &plan.steps {
            let account = self
                .clients
                .account(&step.target.account, &step.target.region)
                .await?;
            let (_, arn) = self
                .clients
                .client(&step.target.account, &step.target.region)
                .await?;
            principal.get_or_insert(arn);
            accounts = accounts.with(step.target.account.clone(), account);
        }
        let scope = ApprovalBook::open(self.data_dir()).consume(plan, approval_id, unix_now())?;
        let mut sinks = sinks;
        sinks.push(Arc::new(RunFiles::new(self.data_dir())?));
        let id = self.engine.start(
            RunRequest {
                plan: plan.clone(),
                scope,
                principal,
                strategy: Strategy::Serial,
            },
            Runners::aws(accounts, self.library_dir().ok()),
            sinks,
        )?;
        self.watch_cancel(&id);
        Ok(id)
    }

    /// Turns the run's cancel marker (left by `cancel` in another process) into a cancel.
    fn watch_cancel(&self, id: &ExecutionId) {
        let (engine, id) = (self.engine.clone(), id.clone());
        let marker = run::cancel_marker(self.data_dir(), &id.0);
        tokio::spawn(async move {
            let waiting = engine.wait(&id);
            tokio::pin!(waiting);
            loop {
                tokio::select! {
                    _ = &mut waiting => break,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {
                        if marker.exists() {
                            engine.cancel(&id);
                            let _ = std::fs::remove_file(&marker);
                        }
                    }
                }
            }
        });
    }

    /// Cancels a run of this process.
    pub fn cancel(&self, id: &ExecutionId) -> bool {
        self.engine.cancel(id)
    }

    /// Waits for a run of this process to end.
    pub async fn wait(&self, id: &ExecutionId) -> Option<RunOutcome> {
        self.engine.wait(id).await
    }

    /// Scans the resources `plan` touched again, so the estate shows their new state.
    pub async fn rescan(&self, plan: &Plan) -> Result<RescanReport, AskError> {
        let estate = tokio::task::block_in_place(|| self.writer())?;
        let report = rescan::rescan(
            self.data_dir(),
            estate.clone(),
            &self.clients,
            rescan::touched(plan),
        )
        .await?;
        tokio::task::block_in_place(|| estate.store().publish())
            .map_err(|e| AskError::Estate(e.to_string()))?;
        Ok(report)
    }

    /// Adds `turns` to the chat history (opens the store's writer briefly; blocks).
    pub fn remember(&self, turns: &[Turn]) -> Result<(), AskError> {
        let estate = self.writer()?;
        history::append(estate.store(), &self.sealer, turns)?;
        estate
            .store()
            .publish()
            .map_err(|e| AskError::Estate(e.to_string()))
    }

    /// The last `limit` turns of every conversation, oldest first (blocks).
    pub fn history(&self, limit: usize) -> Result<Vec<Turn>, AskError> {
        let estate = self.reader()?;
        history::recent(estate.store(), &self.sealer, None, limit)
    }
}

/// The plan for a singular prompt that matched several resources about equally: nothing to
/// run, and the candidates to choose from.
fn which_one(resolution: &Resolution) -> Plan {
    let mut plan = Plan::nothing(
        Intent {
            kind: IntentKind::Operation,
            service: None,
            operation: None,
        },
        format!(
            "{} resources match \"{}\" about equally well; name the one you mean",
            resolution.ambiguous.len(),
            resolution.query
        ),
    );
    plan.risk = Risk {
        level: RiskLevel::Low,
        reasons: Vec::new(),
    };
    plan.clarify = Some(Clarify {
        question: "Which one do you mean?".into(),
        missing: vec!["target".into()],
        candidates: resolution
            .ambiguous
            .iter()
            .map(|c| Candidate {
                id: c.arn.clone(),
                label: format!(
                    "{} ({}, {}, {})",
                    c.name, c.resource_type, c.account, c.region
                ),
            })
            .collect(),
    });
    plan.sealed()
}
