//! `cloudops plugin ...`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use cloudops_host::paths;
use cloudops_host::plugin::{self, build, Limits, PluginEngine, MANIFEST_FILE};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Build scanner crates into plugin folders (component + plugin.toml with its sha256).
    ///
    /// DIR is a scanner crate (it has a plugin.toml), or a folder of them such as
    /// `plugins/`, whose every scanner crate is built. The results go to the plugin
    /// directory (<data dir>/plugins), where `cloudops scan` finds them.
    Build {
        /// Scanner crates, or folders holding them.
        #[arg(default_value = ".")]
        dirs: Vec<PathBuf>,
        /// Where the built plugin folders go.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// List installed plugins, verifying each (hash, WIT version, manifest).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: PluginCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Build { dirs, out } => {
            let out = out.unwrap_or_else(|| data_dir.join("plugins"));
            let crates = scanner_crates(&dirs)?;
            let mut failed = false;
            for dir in &crates {
                eprintln!("building {} ...", dir.display());
                match build::build_plugin(dir, &out) {
                    Ok(built) => eprintln!(
                        "built `{}` {} ({} KiB) -> {}",
                        built.manifest.name,
                        built.manifest.version,
                        built.component_bytes.div_ceil(1024),
                        built.dir.display()
                    ),
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
        PluginCommand::List { json: json_out } => {
            let roots = paths::plugin_roots(data_dir);
            let engine = PluginEngine::new(Some(&paths::compiled_cache(data_dir)))?;
            let mut rows = Vec::new();
            for dir in plugin::discover(&roots) {
                let row = match plugin::Plugin::load(&engine, &dir, Limits::default()) {
                    Ok(p) => {
                        let m = p.manifest();
                        json!({
                            "name": m.name, "version": m.version.to_string(), "wit": m.wit.to_string(),
                            "services": m.capabilities.services,
                            "actions": m.capabilities.actions.clone().unwrap_or_else(|| m.capabilities.services.iter().flat_map(|s| ["Describe*", "List*", "Get*"].map(|a| format!("{s}:{a}"))).collect()),
                            "dir": dir, "ok": true, "error": null,
                        })
                    }
                    Err(e) => json!({ "dir": dir, "ok": false, "error": e.to_string() }),
                };
                rows.push(row);
            }
            if json_out {
                println!("{}", serde_json::to_string_pretty(&rows)?);
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
                    if row["ok"] == true {
                        println!(
                            "{} {} (wit {}) services={} actions={} [sha256 ok]",
                            row["name"].as_str().unwrap_or(""),
                            row["version"].as_str().unwrap_or(""),
                            row["wit"].as_str().unwrap_or(""),
                            row["services"],
                            row["actions"]
                        );
                    } else {
                        println!(
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
