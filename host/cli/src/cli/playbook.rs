//! `cloudops playbook ...`: the playbook author's tools. `check` reads a library the way the
//! plan server does and names every error's file, line and column; `test` plans each case of
//! `tests/<playbook id>.json` and compares the plan with what the case expects, then finishes
//! the recorded cases of component playbooks (`tests/replay/`) with their components.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use cloudops_playbook::{cases, Library};

/// The `playbook` subcommands. Each is one variant with its own arguments, so `new` and
/// `build` (component playbooks) slot in beside these.
#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// Check every playbook of a library: YAML, fields, references, ranges, unique ids and
    /// inverses. Prints each problem as `file:line:column: message`, then a summary; exits
    /// 1 when there is any, since the plan server refuses a library with one.
    ///
    /// Examples:
    ///   cloudops playbook check                 # ./playbooks
    ///   cloudops playbook check ~/ops/playbooks
    ///
    /// playbooks/SCHEMA.md documents every field. To check the AWS API names and
    /// parameters against botocore's models too, run scripts/check-playbook-api.
    #[command(verbatim_doc_comment)]
    Check(LibraryArgs),
    /// Run the library's playbook test cases: each case in DIR/tests/<playbook id>.json
    /// plans its playbook against fixture resources and states what the plan must say
    /// (runnable, risk, approval, exact step parameters, IAM verdicts, blocked reasons,
    /// clarifications). Then each recorded case of a component playbook (DIR/tests/replay/
    /// <case>/, made by `cloudops playbook record`) is finished by the built component, its
    /// AWS reads answered from the recording with no network, and compared the same way.
    /// Prints one line per failing case with what differs, and a summary; exits 1 when a case
    /// fails or a playbook has fewer than 2 cases.
    ///
    /// Examples:
    ///   cloudops playbook test
    ///   cloudops playbook test ~/ops/playbooks
    #[command(verbatim_doc_comment)]
    Test(LibraryArgs),
    /// `new`, `build` and `run`: playbook components (playbooks/COMPONENTS.md).
    #[command(flatten)]
    Component(super::playbook_component::ComponentCommand),
}

/// Which library.
#[derive(Debug, Args)]
pub struct LibraryArgs {
    /// The library folder [default: ./playbooks, when it exists].
    #[arg(value_name = "DIR", env = "CLOUDOPS_PLAYBOOKS")]
    dir: Option<PathBuf>,
}

/// Every playbook should have a normal case and one that is blocked, denied, asks back or
/// raises the risk.
const MIN_CASES: usize = 2;

/// Runs a `playbook` subcommand.
pub fn run(cmd: PlaybookCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        PlaybookCommand::Check(args) => check(&library_dir(args)?),
        PlaybookCommand::Test(args) => test(&library_dir(args)?, data_dir),
        // cli::run sends these to playbook_component::run, which needs the data dir.
        PlaybookCommand::Component(_) => anyhow::bail!("playbook components run from cli::run"),
    }
}

fn library_dir(args: LibraryArgs) -> anyhow::Result<PathBuf> {
    let dir = match args.dir {
        Some(dir) => dir,
        None if Path::new("playbooks").is_dir() => PathBuf::from("playbooks"),
        None => anyhow::bail!(
            "no playbook library here: give its folder (`cloudops playbook check DIR`), set \
             CLOUDOPS_PLAYBOOKS, or run from a folder that holds playbooks/"
        ),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "{} is not a folder: give the library folder (the one holding <service>/*.yaml)",
            dir.display()
        );
    }
    Ok(dir)
}

/// Loads the library, printing every error as `DIR/file:line:column: message`.
fn load(dir: &Path) -> Result<Library, usize> {
    Library::load_dir(dir).map_err(|errors| {
        let mut files: Vec<&str> = errors.iter().map(|d| d.file.as_str()).collect();
        files.dedup();
        for d in &errors {
            // Paths under DIR, so editors and terminals can jump to them from here.
            let file = dir.join(&d.file);
            out!("{}:{}:{}: {}", file.display(), d.line, d.column, d.message);
        }
        out!(
            "{} error{} in {} file{} of {}: the library is refused until they are fixed",
            errors.len(),
            plural(errors.len()),
            files.len(),
            plural(files.len()),
            dir.display()
        );
        errors.len()
    })
}

fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    match load(dir) {
        Ok(library) => {
            out!(
                "{} playbook{} in {}: no errors",
                library.len(),
                plural(library.len()),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(_) => Ok(ExitCode::FAILURE),
    }
}

fn test(dir: &Path, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let Ok(library) = load(dir) else {
        out!("no case was run: fix the errors above (`cloudops playbook check`) first");
        return Ok(ExitCode::FAILURE);
    };
    let cases = cases::load_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "{e}: cases go in {}/tests/<playbook id>.json",
            dir.display()
        )
    })?;
    let mut failed = 0;
    for case in &cases {
        if let Err(why) = cases::run(&library, "worktree", case) {
            failed += 1;
            out!(
                "FAIL {} / {}: {}",
                case.playbook,
                case.name,
                why.replace("\n  ", "; ")
            );
        }
    }
    let mut thin = 0;
    for p in library.playbooks() {
        let n = cases.iter().filter(|c| c.playbook == p.id).count();
        if n < MIN_CASES {
            thin += 1;
            out!(
                "FAIL {}: {n} case{} in tests/{}.json, and every playbook needs {MIN_CASES}",
                p.id,
                plural(n),
                p.id
            );
        }
    }
    let replayed = super::playbook_component::replay_cases(dir, data_dir)?;
    failed += replayed.failed;
    let recorded = match replayed.run {
        0 => String::new(),
        n => format!(" and {n} recorded component case{}", plural(n)),
    };
    out!(
        "{} case{} of {} playbook{}{recorded}: {} passed, {failed} failed; {thin} playbook{} \
         with fewer than {MIN_CASES} cases",
        cases.len(),
        plural(cases.len()),
        library.len(),
        plural(library.len()),
        cases.len() + replayed.run - failed,
        plural(thin)
    );
    Ok(if failed == 0 && thin == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
