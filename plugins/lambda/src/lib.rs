//! The first-party Lambda scanner: functions with their tags and aliases, and layer
//! versions.

mod analyze;
mod parse;

use cloudops_scanner_sdk::rest::{self, paginate_with, RestRequest};
use cloudops_scanner_sdk::{
    resource_type, run_scan, settings, Constraints, Emitter, Error, PluginInfo, Resource,
    ScanContext, ScanSummary, Scanner, Scope,
};

struct Lambda;

impl Scanner for Lambda {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "lambda".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec!["lambda".into()],
            resource_types: vec![
                resource_type(
                    "lambda_function",
                    &[
                        "lambda:InvokeFunction",
                        "lambda:UpdateFunctionConfiguration",
                        "lambda:DeleteFunction",
                        "lambda:PutFunctionConcurrency",
                    ],
                ),
                resource_type(
                    "lambda_alias",
                    &["lambda:UpdateAlias", "lambda:DeleteAlias"],
                ),
                resource_type("lambda_layer", &["lambda:DeleteLayerVersion"]),
            ],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        run_scan(&ctx, RestRequest::send, scan_with)
    }

    fn analyze(r: Resource) -> Constraints {
        analyze::constraints(&r)
    }
}

/// The whole scan over any `send`, so tests can replay recorded responses; problems that do
/// not stop it go to `warnings`. A failed ListFunctions or ListLayers fails the scan at
/// once. A failed per-function or per-layer listing makes aliases or layers incomplete: the
/// host must not forget the aliases or versions it could not list, and still keeps the
/// other types current.
fn scan_with(
    ctx: &ScanContext,
    mut send: impl FnMut(&RestRequest) -> Result<Vec<u8>, Error>,
    out: &mut Emitter,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let scope = Scope::of(ctx);
    // For users behind slow links or strict throttling.
    let page = settings::page_size(ctx, MIN_PAGE, MAX_PAGE, MAX_PAGE, warnings);

    let mut functions = Vec::new();
    rest::list(
        "ListFunctions",
        &mut send,
        |m| list_request("/2015-03-31/functions", page, m),
        parse::functions_page,
        &mut functions,
        warnings,
    )?;

    for function in functions {
        let name = function.function_name.clone();
        let function_arn = function.arn(&scope);
        let tags = match send(&RestRequest::get(
            "lambda",
            format!("/2017-03-31/tags/{function_arn}"),
        ))
        .and_then(|body| parse::tags(&body))
        {
            Ok(tags) => Some(tags),
            Err(e) => {
                warnings.push(format!("function {name}: ListTags failed: {e}"));
                None
            }
        };
        out.push(parse::function_resource(function, tags, &scope));

        let aliases = paginate_with(
            "ListAliases",
            &mut send,
            |m| list_request(&format!("/2015-03-31/functions/{name}/aliases"), page, m),
            |body| Ok(parse::aliases_page(body)?.split(warnings)),
        );
        match aliases {
            Ok(p) => {
                warnings.extend(p.warnings);
                for alias in p.items {
                    out.push(parse::alias_resource(alias, &name, &function_arn, &scope));
                }
            }
            Err(e) => listing_failed(
                &format!("ListAliases of {name}"),
                "lambda_alias",
                e,
                out,
                warnings,
            ),
        }
    }

    let mut layers = Vec::new();
    rest::list(
        "ListLayers",
        &mut send,
        |m| list_request("/2018-10-31/layers", page, m),
        parse::layers_page,
        &mut layers,
        warnings,
    )?;

    for layer in layers {
        let name = layer.layer_name;
        let versions = paginate_with(
            "ListLayerVersions",
            &mut send,
            |m| list_request(&format!("/2018-10-31/layers/{name}/versions"), page, m),
            |body| Ok(parse::layer_versions_page(body)?.split(warnings)),
        );
        match versions {
            Ok(p) => {
                warnings.extend(p.warnings);
                let latest = parse::latest(&p.items);
                for v in p.items {
                    out.push(parse::layer_version_resource(&name, v, latest, &scope));
                }
            }
            Err(e) => listing_failed(
                &format!("ListLayerVersions of {name}"),
                "lambda_layer",
                e,
                out,
                warnings,
            ),
        }
    }

    Ok(())
}

/// A function or layer that vanished between two calls has nothing left to list; any other
/// failure leaves `resource_type` incomplete.
fn listing_failed(
    call: &str,
    resource_type: &str,
    e: Error,
    out: &mut Emitter,
    warnings: &mut Vec<String>,
) {
    if e.aws_code() == Some("ResourceNotFoundException") {
        warnings.push(format!("{call}: it was deleted during the scan"));
    } else {
        out.incomplete(resource_type, format!("{call} failed: {e}"));
    }
}

/// `GET path?MaxItems=…&Marker=…`, the paging every Lambda listing uses.
fn list_request(path: &str, page: u32, marker: Option<&str>) -> RestRequest {
    RestRequest::get("lambda", path)
        .query("MaxItems", page.to_string())
        .query_opt("Marker", marker)
}

/// ListFunctions and ListLayers return at most 50 per page, and accept as few as 1.
const MAX_PAGE: u32 = 50;
const MIN_PAGE: u32 = 1;

cloudops_scanner_sdk::export!(Lambda);

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::{self, context, fixture};

    /// Answers like the moto emulator did when these fixtures were recorded (it ignores
    /// MaxItems and never pages).
    fn moto(req: &RestRequest) -> Result<Vec<u8>, Error> {
        assert_eq!((req.service(), req.method()), ("lambda", "GET"));
        let name = match req.path() {
            "/2015-03-31/functions" => "moto_list_functions.json",
            "/2017-03-31/tags/arn:aws:lambda:us-west-2:123456789012:function:api" => {
                "moto_tags_api.json"
            }
            "/2017-03-31/tags/arn:aws:lambda:us-west-2:123456789012:function:worker" => {
                return Ok(br#"{"Tags": {}}"#.to_vec())
            }
            "/2015-03-31/functions/api/aliases" => "moto_aliases_api.json",
            "/2015-03-31/functions/worker/aliases" => "moto_aliases_worker.json",
            "/2018-10-31/layers" => "moto_list_layers.json",
            "/2018-10-31/layers/shared-libs/versions" => "moto_layer_versions.json",
            other => panic!("unexpected request {other}"),
        };
        Ok(fixture(name))
    }

    fn run(
        settings: &[(&str, &str)],
        send: impl FnMut(&RestRequest) -> Result<Vec<u8>, Error>,
    ) -> (Result<Vec<String>, String>, Vec<Resource>) {
        testing::scan(&context("us-west-2", settings), send, scan_with)
    }

    fn ids(all: &[Resource]) -> Vec<(&str, &str)> {
        all.iter()
            .map(|r| (&r.resource_type[..], &r.identifier[..]))
            .collect()
    }

    #[test]
    fn describe_lists_three_types_with_their_actions() {
        let info = Lambda::describe();
        assert_eq!(info.name, "lambda");
        assert_eq!(info.services, ["lambda"]);
        let names: Vec<_> = info.resource_types.iter().map(|t| &t.name[..]).collect();
        assert_eq!(names, ["lambda_function", "lambda_alias", "lambda_layer"]);
        assert!(info.resource_types[0]
            .actions
            .contains(&"lambda:PutFunctionConcurrency".to_owned()));
        assert_eq!(
            info.resource_types[2].actions,
            ["lambda:DeleteLayerVersion"]
        );
    }

    #[test]
    fn the_manifest_agrees_with_describe() {
        let manifest = include_str!("../plugin.toml");
        let info = Lambda::describe();
        assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
        assert!(manifest.contains(&format!("version = \"{}\"", info.version)));
        assert!(manifest.contains(&format!("wit = \"{}\"", cloudops_scanner_sdk::WIT_VERSION)));
        assert!(manifest.contains("services = [\"lambda\"]"));
        assert!(
            manifest.contains("\"lambda:ListFunctions\""),
            "ListFunctions is sensitive: it must be granted by name"
        );
    }

    #[test]
    fn a_scan_of_the_emulator_reports_functions_aliases_and_layer_versions() {
        let (result, all) = run(&[], moto);
        assert_eq!(result.unwrap(), Vec::<String>::new());
        assert_eq!(
            ids(&all),
            [
                ("lambda_function", "api"),
                ("lambda_alias", "api:live"),
                ("lambda_function", "worker"),
                ("lambda_layer", "shared-libs:2"),
                ("lambda_layer", "shared-libs:1"),
            ]
        );
        let layer_arn = &all[3].arn;
        assert!(
            all[0]
                .relations
                .iter()
                .any(|r| r.kind == "layer" && &r.target_arn == layer_arn),
            "the function's layer relation finds the layer version"
        );
        assert_eq!(all[1].relations[0].target_arn, all[0].arn);
        assert!(all[2].tags.is_empty());
        for r in &all {
            let meta: serde_json::Value = serde_json::from_str(&r.metadata).unwrap();
            assert!(meta.is_object());
            assert_eq!(r.region, "us-west-2");
        }
    }

    #[test]
    fn markers_are_followed_with_the_page_size() {
        let mut seen = Vec::new();
        let (result, all) = run(&[("page_size", "2")], |req| {
            seen.push(format!("{} {:?}", req.path(), req.query_params()));
            match (req.path(), req.query_value("Marker")) {
                ("/2015-03-31/functions", None) => Ok(fixture("list_functions_page1.json")),
                ("/2015-03-31/functions", Some("bWFya2VyLTE=")) => {
                    Ok(fixture("list_functions_page2.json"))
                }
                (p, _) if p.starts_with("/2017-03-31/tags/") => Ok(br#"{"Tags":{}}"#.to_vec()),
                (p, _) if p.ends_with("/aliases") => Ok(br#"{"Aliases":[]}"#.to_vec()),
                ("/2018-10-31/layers", None) => Ok(br#"{"Layers":[],"NextMarker":null}"#.to_vec()),
                other => panic!("unexpected request {other:?}"),
            }
        });
        let warnings = result.unwrap();
        assert_eq!(
            warnings.len(),
            2,
            "two odd functions on page 1: {warnings:?}"
        );
        assert_eq!(
            ids(&all),
            [
                ("lambda_function", "orders-api"),
                ("lambda_function", "orders-worker")
            ]
        );
        assert_eq!(seen[0], r#"/2015-03-31/functions [("MaxItems", "2")]"#);
        assert_eq!(
            seen[1],
            r#"/2015-03-31/functions [("MaxItems", "2"), ("Marker", "bWFya2VyLTE=")]"#
        );
        assert_eq!(
            seen[2],
            r#"/2017-03-31/tags/arn:aws:lambda:us-west-2:123456789012:function:orders-api []"#,
            "the ARN goes into the path raw; the host encodes each segment"
        );
    }

    #[test]
    fn a_failed_function_listing_fails_the_scan_and_names_the_call() {
        let (result, all) = run(&[], |_| {
            Err(Error::from_response(
                403,
                br#"{"Type":"User","Message":"not authorized to perform: lambda:ListFunctions","__type":"AccessDeniedException"}"#,
            ))
        });
        assert_eq!(
            result.unwrap_err(),
            "ListFunctions failed: AccessDeniedException: not authorized to perform: lambda:ListFunctions (HTTP 403)"
        );
        assert!(all.is_empty());
        let (result, _) = run(&[], |_| {
            Ok(b"<html><body>502 Bad Gateway</body></html>".to_vec())
        });
        assert!(result
            .unwrap_err()
            .starts_with("ListFunctions failed: cannot parse ListFunctions"));
    }

    #[test]
    fn denied_tags_are_a_gap_and_a_failed_alias_listing_makes_aliases_incomplete() {
        let send = |req: &RestRequest| match req.path() {
            p if p.starts_with("/2017-03-31/tags/") => Err(Error::from_response(
                403,
                br#"{"__type":"AccessDeniedException","Message":"no"}"#,
            )),
            "/2015-03-31/functions/worker/aliases" => {
                Err(Error::Refused("request budget spent".into()))
            }
            "/2015-03-31/functions/api/aliases" => Err(Error::from_response(
                404,
                &fixture("moto_aliases_missing.json"),
            )),
            _ => moto(req),
        };
        let (result, all) = testing::run(&context("us-west-2", &[]), send, scan_with);
        let summary = result.unwrap();
        assert_eq!(summary.incomplete_types, ["lambda_alias"]);
        assert!(
            summary.warnings.iter().any(|w| w
                == "lambda_alias is incomplete, nothing of it will be removed: \
                    ListAliases of worker failed: request budget spent"),
            "{:?}",
            summary.warnings
        );
        assert_eq!(
            ids(&all),
            [
                ("lambda_function", "api"),
                ("lambda_function", "worker"),
                ("lambda_layer", "shared-libs:2"),
                ("lambda_layer", "shared-libs:1"),
            ]
        );
        let meta: serde_json::Value = serde_json::from_str(&all[0].metadata).unwrap();
        assert_eq!(meta["_unread"], serde_json::json!(["tags"]));
    }

    #[test]
    fn an_unreadable_function_makes_functions_incomplete_and_nothing_else() {
        let send = |req: &RestRequest| {
            match req.path() {
            // The second function's name is a number: the item cannot be read.
            "/2015-03-31/functions" => Ok(br#"{"Functions": [
                {"FunctionName": "api", "FunctionArn": "arn:aws:lambda:us-west-2:123456789012:function:api"},
                {"FunctionName": 7}
            ]}"#
            .to_vec()),
            _ => moto(req),
        }
        };
        let (result, all) = testing::run(&context("us-west-2", &[]), send, scan_with);
        let summary = result.unwrap();
        assert_eq!(summary.incomplete_types, ["lambda_function"]);
        assert!(ids(&all).contains(&("lambda_function", "api")));
    }

    #[test]
    fn a_tags_answer_without_tags_is_unread_not_empty() {
        let send = |req: &RestRequest| match req.path() {
            p if p.ends_with("function:worker") => Ok(br#"{"Message": "ok"}"#.to_vec()),
            _ => moto(req),
        };
        let (result, all) = run(&[], send);
        let warnings = result.unwrap();
        assert!(
            warnings[0].starts_with("function worker: ListTags failed: cannot parse"),
            "{warnings:?}"
        );
        let worker = all.iter().find(|r| r.identifier == "worker").unwrap();
        let meta: serde_json::Value = serde_json::from_str(&worker.metadata).unwrap();
        assert_eq!(meta["_unread"], serde_json::json!(["tags"]));
    }

    #[test]
    fn page_size_setting_is_honoured_within_aws_bounds() {
        let mut sizes = Vec::new();
        let (result, _) = run(&[("page_size", "1")], |req| {
            sizes.extend(req.query_value("MaxItems").map(str::to_owned));
            moto(req)
        });
        assert_eq!(result.unwrap(), Vec::<String>::new());
        assert!(
            !sizes.is_empty() && sizes.iter().all(|s| s == "1"),
            "{sizes:?}"
        );
        let (result, _) = run(&[("page_size", "500")], moto);
        assert_eq!(
            result.unwrap(),
            ["setting page_size = \"500\" is not a number from 1 to 50; using 50"]
        );
    }
}
