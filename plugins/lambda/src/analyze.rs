//! What a function, alias or layer version allows. Works on the record alone: `analyze`
//! may not call AWS.

use cloudops_scanner_sdk::constraints::none;
use cloudops_scanner_sdk::{Constraints, Resource};

pub fn constraints(r: &Resource) -> Constraints {
    let mut c = none();
    match r.resource_type.as_str() {
        "lambda_function" => {
            c.can_delete = true;
            c.notes.push(
                "functions cannot be stopped or started; setting reserved concurrency to 0 \
                 pauses all invocations"
                    .into(),
            );
            c.notes
                .push("deleting a function deletes its published versions and aliases too".into());
            if r.state.as_deref().is_some_and(|s| s != "Active") {
                c.notes
                    .push(format!("function is {}", r.state.as_deref().unwrap_or("")));
            }
        }
        "lambda_alias" => {
            c.can_delete = true;
            c.has_dependencies = r.relations.iter().any(|x| x.kind == "function");
            c.notes.push(
                "callers invoking this alias fail once it is deleted; the function stays".into(),
            );
        }
        "lambda_layer" => {
            c.can_delete = true;
            c.notes.push(
                "functions already using this layer version keep working after it is \
                 deleted, but none can be created or updated to use it"
                    .into(),
            );
        }
        other => c.notes.push(format!(
            "the lambda scanner does not know resource type `{other}`"
        )),
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::relation;

    fn resource(t: &str, state: Option<&str>) -> Resource {
        Resource {
            resource_type: t.into(),
            identifier: "f".into(),
            arn: "arn:aws:lambda:us-west-2:123456789012:function:f".into(),
            name: "f".into(),
            region: "us-west-2".into(),
            state: state.map(str::to_owned),
            tags: Vec::new(),
            relations: Vec::new(),
            metadata: "{}".into(),
        }
    }

    #[test]
    fn functions_can_be_deleted_but_not_stopped() {
        let c = constraints(&resource("lambda_function", Some("Active")));
        assert!(c.can_delete && !c.can_stop && !c.can_start);
        assert!(c.notes[0].contains("concurrency to 0"), "{:?}", c.notes);
        assert_eq!(c.notes.len(), 2);
        let c = constraints(&resource("lambda_function", Some("Failed")));
        assert_eq!(c.notes.last().unwrap(), "function is Failed");
        assert_eq!(
            constraints(&resource("lambda_function", None)).notes.len(),
            2
        );
    }

    #[test]
    fn aliases_depend_on_their_function_and_layers_can_be_deleted() {
        let mut alias = resource("lambda_alias", None);
        alias.relations.push(relation(
            "function",
            "arn:aws:lambda:us-west-2:123456789012:function:f",
        ));
        let c = constraints(&alias);
        assert!(c.can_delete && c.has_dependencies);
        let c = constraints(&resource("lambda_layer", None));
        assert!(c.can_delete && !c.has_dependencies);
        let c = constraints(&resource("s3_bucket", None));
        assert!(!c.can_delete);
        assert_eq!(
            c.notes,
            ["the lambda scanner does not know resource type `s3_bucket`"]
        );
    }
}
