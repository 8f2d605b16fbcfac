//! Plans kept in the data dir (`<data dir>/plans/<plan id>.json`), so that
//! `cloudops approve PLAN_ID` in another terminal approves exactly the plan that was shown.
//! A plan whose file was edited no longer matches its id and is refused when approved or run.

use std::path::{Path, PathBuf};

use cloudops_playbook::plan::Plan;
use serde::{Deserialize, Serialize};

use crate::AskError;

/// A plan as it was shown, with the prompt it answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// The user's words.
    pub prompt: String,
    /// When it was made (Unix seconds).
    pub at: u64,
    /// The plan.
    pub plan: Plan,
}

/// The plans folder of a data dir.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("plans")
}

fn path(data_dir: &Path, plan_id: &str) -> Result<PathBuf, AskError> {
    // A plan id is a SHA-256 in hex: anything else is not a file name of ours.
    if plan_id.is_empty() || !plan_id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AskError::UnknownPlan(plan_id.to_owned()));
    }
    Ok(dir(data_dir).join(format!("{plan_id}.json")))
}

/// Saves `plan` (written whole, by rename).
pub fn save(data_dir: &Path, saved: &SavedPlan) -> Result<(), AskError> {
    let path = path(data_dir, &saved.plan.plan_id)?;
    let text = serde_json::to_vec_pretty(saved).expect("a plan is always JSON");
    write_atomic(&path, &text)
}

/// Loads the plan `plan_id` (a unique prefix of at least 8 characters also works).
pub fn load(data_dir: &Path, plan_id: &str) -> Result<SavedPlan, AskError> {
    let full = expand(data_dir, plan_id)?;
    let path = path(data_dir, &full)?;
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AskError::UnknownPlan(plan_id.to_owned()),
        _ => AskError::io(&path, e),
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| AskError::io(&path, format!("not a saved plan ({e})")))
}

/// The full id of the one saved plan starting with `prefix`.
fn expand(data_dir: &Path, prefix: &str) -> Result<String, AskError> {
    if prefix.len() == 64 || prefix.len() < 8 {
        return Ok(prefix.to_owned());
    }
    let found: Vec<String> = std::fs::read_dir(dir(data_dir))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json")
                .filter(|id| id.starts_with(prefix))
                .map(str::to_owned)
        })
        .collect();
    match found.len() {
        1 => Ok(found[0].clone()),
        _ => Err(AskError::UnknownPlan(prefix.to_owned())),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, creating the folder.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AskError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| AskError::io(parent, e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| AskError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| AskError::io(path, e))
}
