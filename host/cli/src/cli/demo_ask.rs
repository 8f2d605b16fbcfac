//! The demo's last act, from the estate it seeded: one plan shown, one low-risk change run
//! against the emulator, the commands to try next, and (with `--keep`) a config.toml in the
//! data dir so that those commands work with no extra environment.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use cloudops_demo::{Emulator, EstateFile, ResourceKind, SeedReport};
use cloudops_host::ask::{AccountAccess, Options, Session};
use cloudops_host::aws::{Credentials, Endpoints, EXAMPLE_ACCESS_KEY, EXAMPLE_SECRET_KEY};
use cloudops_host::execute::approval::Given;
use cloudops_host::playbook::plan::RiskLevel;
use cloudops_host::store::Location;

use super::{plan_view, runs};

/// What the demo names, taken from the estate file.
pub struct Picks {
    /// A database's name to search for (else any resource's).
    pub name: String,
    /// A tag query (`env=prod AND app=main`), when resources have tags.
    pub tags: Option<String>,
    /// `<account name> account in <region>`.
    pub place: String,
    /// A production database to plan a stop of (shown, not run).
    pub production_db: Option<String>,
    /// A database whose stop is low risk (run with `--yes`).
    pub low_risk_db: Option<String>,
}

/// Picks names from `file` for the demo's examples.
pub fn picks(file: &EstateFile) -> Picks {
    let resources = file.resources();
    let name_of = |r: &cloudops_demo::ResourceSpec| r.key().to_owned();
    let dbs: Vec<_> = resources
        .iter()
        .filter(|r| r.kind == ResourceKind::RdsInstance)
        .collect();
    let replicated: BTreeSet<String> = dbs
        .iter()
        .filter_map(|r| match &r.attrs {
            cloudops_demo::Attrs::RdsInstance(a) => a.replica_of.clone(),
            _ => None,
        })
        .collect();
    let production =
        |r: &cloudops_demo::ResourceSpec| r.tags.get("env").is_some_and(|e| e.starts_with("prod"));
    let low_risk = |r: &&&cloudops_demo::ResourceSpec| {
        let cloudops_demo::Attrs::RdsInstance(a) = &r.attrs else {
            return false;
        };
        !production(r)
            && matches!(r.state.as_deref(), None | Some("available"))
            && a.multi_az != Some(true)
            && a.replica_of.is_none()
            && a.cluster.is_none()
            && !replicated.contains(r.key())
    };
    let tagged = resources.iter().find(|r| !r.tags.is_empty());
    let place = resources
        .first()
        .and_then(|r| file.account(&r.account).map(|a| (a, r.region.clone())))
        .map(|(a, region)| format!("{} account in {region}", a.name))
        .unwrap_or_default();
    Picks {
        name: dbs
            .first()
            .or(resources.first().as_ref())
            .map(|r| name_of(r))
            .unwrap_or_default(),
        tags: tagged.map(|r| {
            r.tags
                .iter()
                .take(2)
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" AND ")
        }),
        place,
        production_db: dbs.iter().find(|r| production(r)).map(|r| name_of(r)),
        low_risk_db: dbs.iter().find(low_risk).map(|r| name_of(r)),
    }
}

/// An ask session on the demo's emulator: the accounts' roles assumed from the example keys.
fn session(
    data_dir: &Path,
    store: Location,
    emulator: &Emulator,
    seeded: &SeedReport,
) -> anyhow::Result<Arc<Session>> {
    let mut options = Options::new(data_dir);
    options.store = store;
    options.endpoints = Endpoints::default().with_global(emulator.url());
    options.base_credentials = Some(Credentials::from_keys(
        EXAMPLE_ACCESS_KEY,
        EXAMPLE_SECRET_KEY,
        None,
    ));
    options.accounts = seeded
        .accounts
        .iter()
        .map(|a| AccountAccess {
            name: a.name.clone(),
            profile: None,
            role_arn: Some(a.role_arn.clone()),
        })
        .collect();
    options.poll = std::time::Duration::from_millis(500);
    Ok(Arc::new(tokio::task::block_in_place(|| {
        Session::open(options)
    })?))
}

/// Shows the plan of stopping a production database, then stops a low-risk one.
pub async fn plan_and_run(
    data_dir: &Path,
    store: Location,
    emulator: &Emulator,
    seeded: &SeedReport,
    picks: &Picks,
) -> anyhow::Result<()> {
    let session = session(data_dir, store, emulator, seeded)?;
    if let Some(db) = &picks.production_db {
        out!("\n$ cloudops plan stop {db}");
        let asked = session.ask(&format!("stop {db}")).await?;
        plan_view::print(&asked.plan, &asked.planner);
        out!("({})", plan_view::approval_line(&asked.plan));
    }
    let Some(db) = &picks.low_risk_db else {
        out!("\n(no database in this estate is low risk to stop, so the demo runs nothing)");
        return Ok(());
    };
    out!("\n$ cloudops ask stop {db} --yes");
    let asked = session.ask(&format!("stop {db}")).await?;
    plan_view::print(&asked.plan, &asked.planner);
    if !asked.plan.runnable || asked.plan.risk.level != RiskLevel::Low {
        out!("({})", plan_view::approval_line(&asked.plan));
        return Ok(());
    }
    let approval = session.approve(&asked.plan, &Given::YesFlag)?;
    let run = runs::execute(&session, &asked.plan, &approval.id, false).await?;
    out!(
        "run {}: {}; `cloudops runs` and `cloudops audit verify` show it",
        run["id"].as_str().unwrap_or_default(),
        run["outcome"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// Writes `<data dir>/config.toml` for the running emulator: its endpoint, the example keys
/// it accepts and each account's role, so later commands with `--data-dir` need nothing else.
pub fn write_config(
    data_dir: &Path,
    emulator: &Emulator,
    seeded: &SeedReport,
    file: &EstateFile,
) -> anyhow::Result<()> {
    let mut text = format!(
        "# Written by `cloudops demo --keep` for the emulator at {url}; remove this file when\n\
         # it stops.\n[aws]\nendpoint_url = \"{url}\"\nexample_keys = true\n",
        url = emulator.url()
    );
    for a in &seeded.accounts {
        let regions: Vec<String> = file
            .account(&a.id)
            .map(|acc| acc.regions.iter().map(|r| format!("\"{r}\"")).collect())
            .unwrap_or_default();
        text.push_str(&format!(
            "\n[[accounts]]\nname = \"{}\"\nrole_arn = \"{}\"\nregions = [{}]\n",
            a.name,
            a.role_arn,
            regions.join(", ")
        ));
    }
    let path = data_dir.join("config.toml");
    std::fs::write(&path, text)?;
    eprintln!("wrote {} for the running emulator", path.display());
    Ok(())
}
