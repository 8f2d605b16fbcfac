//! Every `aws` action of the playbook library maps to a sender, and the REST senders' tables
//! ([`REST_OPERATIONS`], [`S3_LISTS`]) agree with botocore's models: method, URI, payload
//! member, where each parameter the playbooks use goes, and S3's XML list names.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use cloudops_execute::aws_step::api_for;
use cloudops_execute::rest::{REST_OPERATIONS, S3_LISTS};
use cloudops_playbook::plan::{Step, StepKind, Target};
use cloudops_playbook::Library;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (action, resource type) of every `aws` step of the library, with a sample ARN.
fn library_actions() -> BTreeSet<(String, String)> {
    let library = Library::load_dir(&root().join("playbooks")).expect("the library loads");
    let mut out = BTreeSet::new();
    for p in library.playbooks() {
        for step in p.steps.iter().filter(|s| s.kind == StepKind::Aws) {
            for t in &p.applies_to {
                out.insert((step.action.clone(), t.clone()));
            }
        }
    }
    out
}

/// A sample ARN of the type, as the scanners write them (ELB's says which kind it is).
fn arn_of(resource_type: &str) -> String {
    match resource_type {
        "elb_load_balancer" => {
            "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/web/1".into()
        }
        other => format!("arn:aws:x:us-west-2:123456789012:{other}"),
    }
}

#[test]
fn every_aws_action_of_the_library_has_a_sender() {
    let actions = library_actions();
    assert!(actions.len() > 30, "{} actions", actions.len());
    let mut missing = Vec::new();
    for (action, resource_type) in &actions {
        let step = Step {
            id: "s".into(),
            action: action.clone(),
            target: Target {
                arn: arn_of(resource_type),
                resource_type: resource_type.clone(),
                ..Target::default()
            },
            ..Step::default()
        };
        if let Err(e) = api_for(&step) {
            missing.push(format!("{action} on {resource_type}: {e}"));
        }
    }
    assert!(missing.is_empty(), "no sender for:\n{}", missing.join("\n"));
}

/// Prints, for each REST action of the library (argv: the playbooks folder, then the action
/// names): `op<TAB>service<TAB>operation<TAB>method<TAB>uri<TAB>payload`, then for each
/// parameter the playbooks give it `param<TAB>service<TAB>operation<TAB>name<TAB>location`,
/// and for each S3 list in its input `list<TAB>member<TAB>element<TAB>flattened`.
const SCRIPT: &str = r#"
import sys, pathlib, yaml, botocore.session
s = botocore.session.get_session()
used = {}
for path in pathlib.Path(sys.argv[1]).rglob("*.yaml"):
    doc = yaml.safe_load(path.read_text())
    for step in (doc or {}).get("steps", []) if isinstance(doc, dict) else []:
        if step.get("kind", "aws") == "aws":
            used.setdefault(step["action"], set()).update((step.get("params") or {}).keys())
models = {"lambda": "lambda", "s3": "s3"}
extra = [a for a in sys.argv[2:]]
def walk(shape, depth=0):
    if depth > 8 or shape.type_name != "structure":
        return
    for name, member in shape.members.items():
        if member.type_name == "list":
            flat = bool(member.serialization.get("flattened"))
            # A flattened list repeats the member's own name; a wrapped one names its items.
            if flat:
                element = member.serialization.get("name", name)
            else:
                element = member.member.serialization.get("name", "member")
            print(f"list\t{name}\t{element}\t{flat}")
            walk(member.member, depth + 1)
        else:
            walk(member, depth + 1)
for action in sorted(set(used) | set(extra)):
    prefix, op = action.split(":")
    if prefix not in models:
        continue
    model = s.get_service_model(models[prefix]).operation_model(op)
    payload = model.input_shape.serialization.get("payload", "")
    print(f"op\t{prefix}\t{op}\t{model.http['method']}\t{model.http['requestUri']}\t{payload}")
    for name in sorted(used.get(action, ())):
        member = model.input_shape.members[name]
        print(f"param\t{prefix}\t{op}\t{name}\t{member.serialization.get('location', 'body')}")
    if prefix == "s3" and payload:
        walk(model.input_shape.members[payload])
"#;

#[test]
fn rest_tables_match_botocore_for_the_librarys_actions() {
    let name = "rest_tables_match_botocore_for_the_librarys_actions";
    let python = root().join(".venv/bin/python");
    let own: Vec<String> = REST_OPERATIONS
        .iter()
        .map(|o| format!("{}:{}", o.service, o.operation))
        .collect();
    let output = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(root().join("playbooks"))
        .args(&own)
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            return skipped(&format!("SKIPPED: {name}: botocore or PyYAML is not installed in .venv (scripts/setup installs them): {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or_default()));
        }
        Ok(o) => panic!("{}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            return skipped(&format!(
                "SKIPPED: {name}: {} cannot run ({e}); scripts/setup installs it",
                python.display()
            ));
        }
    };
    let mut wrong = Vec::new();
    let text = String::from_utf8_lossy(&output.stdout);
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[..] {
            ["op", service, operation, method, uri, payload] => {
                let Some(op) = REST_OPERATIONS
                    .iter()
                    .find(|o| o.service == service && o.operation == operation)
                else {
                    wrong.push(format!(
                        "{service}:{operation} has no row in rest::REST_OPERATIONS"
                    ));
                    continue;
                };
                let payload = (!payload.is_empty()).then_some(payload);
                if (op.method, op.uri, op.payload) != (method, uri, payload) {
                    wrong.push(format!("{service}:{operation}: botocore says {method} {uri} payload {payload:?}, the table {op:?}"));
                }
            }
            ["param", service, operation, param, location] => {
                let op = REST_OPERATIONS
                    .iter()
                    .find(|o| o.service == service && o.operation == operation);
                let in_uri = op.is_some_and(|o| o.uri.contains(&format!("{{{param}}}")));
                let ok = match location {
                    "uri" => in_uri,
                    "body" => service == "lambda" || op.is_some_and(|o| o.payload == Some(param)),
                    _ => false,
                };
                if !ok {
                    wrong.push(format!("{service}:{operation}: the playbooks give {param}, which goes in the {location}, and the sender does not put it there"));
                }
            }
            ["list", member, element, flattened] => {
                let flattened = flattened == "True";
                if !S3_LISTS.contains(&(member, element, flattened)) {
                    wrong.push(format!(
                        "add to rest::S3_LISTS: (\"{member}\", \"{element}\", {flattened})"
                    ));
                }
            }
            _ => {}
        }
    }
    assert!(text.contains("op\ts3\tPutPublicAccessBlock"), "{text}");
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Prints a `SKIPPED:` line straight to stdout, where scripts/test counts it.
fn skipped(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
