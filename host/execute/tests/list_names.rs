//! `aws_step::LIST_NAMES` against botocore's models: every list in the input of every RDS, EC2
//! and ELBv2 action the playbooks use must be flattened the way botocore serialises it.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use cloudops_execute::aws_step::LIST_NAMES;

/// Prints `service<TAB>member<TAB>element` for each list member of the playbooks' actions
/// whose element name is not the default (`member` for the query protocol; for EC2, the
/// member's own name).
const SCRIPT: &str = r#"
import re, sys, pathlib, botocore.session
s = botocore.session.get_session()
text = "\n".join(p.read_text() for p in pathlib.Path(sys.argv[1]).rglob("*.yaml"))
models = {"rds": "rds", "ec2": "ec2", "elasticloadbalancing": "elbv2"}
def walk(service, shape, depth=0):
    if depth > 6 or shape.type_name != "structure":
        return
    for name, member in shape.members.items():
        target = member.member if member.type_name == "list" else member
        if member.type_name == "list":
            if service == "ec2":
                loc = member.serialization.get("queryName") or member.serialization.get("name")
                element = (loc[0].upper() + loc[1:]) if loc else name
                if element != name:
                    print(f"{service}\t{name}\t{element}")
            else:
                element = member.member.serialization.get("name", "member")
                if element != "member":
                    print(f"{service}\t{name}\t{element}")
        walk(service, target, depth + 1)
for prefix, model in models.items():
    m = s.get_service_model(model)
    for op in sorted(set(re.findall(r"action: %s:(\w+)" % prefix, text))):
        walk(prefix, m.operation_model(op).input_shape)
"#;

#[test]
fn list_names_match_botocore_for_the_playbooks_actions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let output = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(root.join("playbooks"))
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            skipped("SKIPPED: list_names_match_botocore_for_the_playbooks_actions: botocore is not installed in .venv (scripts/setup installs it)");
            return;
        }
        Ok(o) => panic!("{}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            skipped(&format!("SKIPPED: list_names_match_botocore_for_the_playbooks_actions: {} cannot run ({e}); scripts/setup installs it", python.display()));
            return;
        }
    };
    let mut missing = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        let [service, member, element] = parts[..] else {
            continue;
        };
        if !LIST_NAMES.contains(&(service, member, element)) {
            missing.push(format!("(\"{service}\", \"{member}\", \"{element}\")"));
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "add to aws_step::LIST_NAMES: {}",
        missing.join(", ")
    );
}

/// Prints a `SKIPPED:` line straight to stdout, where scripts/test counts it (libtest
/// swallows a passing test's `println!`).
fn skipped(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
