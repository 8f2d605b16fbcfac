//! `cloudops playbook new` and `cloudops playbook build`: the dev kit for playbook
//! components (playbooks/COMPONENTS.md), beside `playbook check` and `playbook test`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use cloudops_host::plugin::build::build_component;
use cloudops_host::plugin::playbook::{template, Component};
use cloudops_host::plugin::{CodeCache, Limits, PluginEngine};
use cloudops_playbook::library::COMPONENT_FILE;
use cloudops_playbook::Library;

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
    }
}

fn build_library(dir: &Path, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let library = Library::load_dir(dir).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        anyhow::anyhow!(
            "{} has {} errors; fix them (`cloudops playbook check {}`) before building",
            dir.display(),
            errors.len(),
            dir.display()
        )
    })?;
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
