//! Lambda responses to resources. Pure functions over response bodies, so they run in tests
//! without the host.
//!
//! Lambda answers in JSON; emulators label it `text/html`, so bodies are parsed for what
//! they are, and a body that is not the expected JSON object is an error.

use std::collections::BTreeMap;

use cloudops_scanner_sdk::{
    json, normalize_tags, relation, tag, Error, Page, Resource, Scope, Tag, UNREAD,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Cuts a listing page into its items and parses each on its own, so one odd item costs a
/// warning, not the listing. The list must be there: an unrelated JSON document must not
/// read as an empty account, which would make the host forget everything it knew.
///
/// `resource_type` is the type the items become: a skipped item makes it incomplete.
fn page<T: serde::de::DeserializeOwned>(
    body: &[u8],
    operation: &str,
    list: &str,
    resource_type: &str,
) -> Result<Page<T>, Error> {
    #[derive(Deserialize)]
    struct Raw {
        #[serde(flatten)]
        fields: Map<String, Value>,
    }
    let raw: Raw = json::from_slice(body).map_err(|e| Error::parse(operation, e))?;
    let mut fields = raw.fields;
    let items = match fields.remove(list) {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(Error::parse(
                operation,
                format!("`{list}` is {other}, not a list"),
            ))
        }
        None => {
            return Err(Error::parse(
                operation,
                format!("the response has no `{list}`"),
            ))
        }
    };
    let mut out = Page {
        items: Vec::new(),
        warnings: Vec::new(),
        next_token: fields
            .get("NextMarker")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
    };
    for item in items {
        match json::from_value::<T>(item) {
            Ok(v) => out.items.push(v),
            Err(e) => out.skip(resource_type, format!("{operation}: skipped an item: {e}")),
        }
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    pub function_name: String,
    pub function_arn: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code_size: Option<u64>,
    description: Option<String>,
    timeout: Option<u64>,
    memory_size: Option<u64>,
    last_modified: Option<String>,
    version: Option<String>,
    vpc_config: Option<VpcConfig>,
    #[serde(default)]
    layers: Option<Vec<LayerRef>>,
    state: Option<String>,
    package_type: Option<String>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    ephemeral_storage: Option<EphemeralStorage>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VpcConfig {
    #[serde(default)]
    subnet_ids: Option<Vec<String>>,
    #[serde(default)]
    security_group_ids: Option<Vec<String>>,
    vpc_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LayerRef {
    arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EphemeralStorage {
    size: Option<u64>,
}

/// A page of ListFunctions. A function without a name is dropped with a warning.
pub fn functions_page(body: &[u8]) -> Result<Page<Function>, Error> {
    let mut p = page::<Function>(body, "ListFunctions", "Functions", "lambda_function")?;
    let before = p.items.len();
    p.items.retain(|f| !f.function_name.trim().is_empty());
    for _ in p.items.len()..before {
        p.skip(
            "lambda_function",
            "ListFunctions: skipped a function without a name".into(),
        );
    }
    Ok(p)
}

impl Function {
    /// The function's ARN as listed, or built from its name when the listing left it out.
    pub fn arn(&self, scope: &Scope) -> String {
        present(self.function_arn.as_deref())
            .map(str::to_owned)
            .unwrap_or_else(|| scope.arn("lambda", &format!("function:{}", self.function_name)))
    }
}

/// A function as a resource. `tags` is `None` when they could not be read; metadata then
/// names them in `_unread` rather than claiming the function has none, so the host keeps
/// the tags it last read.
pub fn function_resource(f: Function, tags: Option<Vec<Tag>>, scope: &Scope) -> Resource {
    let arn = f.arn(scope);
    let mut relations = Vec::new();
    let role = present(f.role.as_deref()).map(str::to_owned);
    if let Some(role) = &role {
        relations.push(relation("role", role.clone()));
    }
    let vpc = f.vpc_config.unwrap_or_default();
    let subnets = ids(vpc.subnet_ids);
    let groups = ids(vpc.security_group_ids);
    for s in &subnets {
        relations.push(relation("subnet", scope.ec2("subnet", s)));
    }
    for g in &groups {
        relations.push(relation("security_group", scope.ec2("security-group", g)));
    }
    let layers = ids(f
        .layers
        .map(|l| l.into_iter().filter_map(|l| l.arn).collect()));
    for l in &layers {
        relations.push(relation("layer", l.clone()));
    }

    let mut meta = Map::new();
    let mut text = |k: &str, v: Option<String>| {
        if let Some(v) = v.as_deref().and_then(|v| present(Some(v))) {
            meta.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    };
    text("runtime", f.runtime);
    text("handler", f.handler);
    text("role", role);
    text("last_modified", f.last_modified);
    text("package_type", f.package_type);
    text("description", f.description);
    text("version", f.version);
    text("vpc_id", vpc.vpc_id);
    let mut number = |k: &str, v: Option<u64>| {
        if let Some(v) = v {
            meta.insert(k.to_owned(), Value::from(v));
        }
    };
    number("memory_size", f.memory_size);
    number("timeout", f.timeout);
    number("code_size", f.code_size);
    number(
        "ephemeral_storage",
        f.ephemeral_storage.and_then(|e| e.size),
    );
    meta.insert("architectures".into(), Value::from(ids(f.architectures)));
    meta.insert("subnet_ids".into(), Value::from(subnets));
    meta.insert("security_group_ids".into(), Value::from(groups));
    meta.insert("layers".into(), Value::from(layers));
    if tags.is_none() {
        meta.insert(UNREAD.into(), json!(["tags"]));
    }

    Resource {
        resource_type: "lambda_function".into(),
        identifier: f.function_name.clone(),
        arn,
        name: f.function_name,
        region: scope.region.to_owned(),
        state: present(f.state.as_deref()).map(str::to_owned),
        tags: tags.unwrap_or_default(),
        relations,
        metadata: Value::Object(meta).to_string(),
    }
}

/// ListTags: a JSON object of key → value. Lambda returns no order, so tags are sorted by
/// key to keep the record stable between scans.
pub fn tags(body: &[u8]) -> Result<Vec<Tag>, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tags {
        // Required: an answer without `Tags` is not a tag list, and reading it as "no
        // tags" would erase the function's tags.
        tags: BTreeMap<String, String>,
    }
    let t: Tags = json::from_slice(body)?;
    Ok(normalize_tags(t.tags.into_iter().map(|(k, v)| tag(k, v))))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alias {
    name: String,
    alias_arn: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
    routing_config: Option<RoutingConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RoutingConfig {
    #[serde(default)]
    additional_version_weights: Option<BTreeMap<String, f64>>,
}

/// A page of ListAliases.
pub fn aliases_page(body: &[u8]) -> Result<Page<Alias>, Error> {
    page(body, "ListAliases", "Aliases", "lambda_alias")
}

/// An alias as a resource, named `function:alias` since alias names repeat across
/// functions. `routing` maps extra versions to the share of traffic they get.
pub fn alias_resource(a: Alias, function: &str, function_arn: &str, scope: &Scope) -> Resource {
    let id = format!("{function}:{}", a.name);
    let arn = present(a.alias_arn.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{function_arn}:{}", a.name));
    let routing: Map<String, Value> = a
        .routing_config
        .and_then(|r| r.additional_version_weights)
        .unwrap_or_default()
        .into_iter()
        .map(|(version, weight)| (version, json!(weight)))
        .collect();
    let mut meta = Map::new();
    meta.insert("function_name".into(), Value::String(function.to_owned()));
    meta.insert("alias_name".into(), Value::String(a.name));
    for (k, v) in [
        ("function_version", a.function_version),
        ("description", a.description),
        ("revision_id", a.revision_id),
    ] {
        if let Some(v) = present(v.as_deref()) {
            meta.insert(k.into(), Value::String(v.to_owned()));
        }
    }
    meta.insert("routing".into(), Value::Object(routing));
    Resource {
        resource_type: "lambda_alias".into(),
        identifier: id.clone(),
        arn,
        name: id,
        region: scope.region.to_owned(),
        state: None,
        tags: Vec::new(),
        relations: vec![relation("function", function_arn.to_owned())],
        metadata: Value::Object(meta).to_string(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Layer {
    pub layer_name: String,
}

/// A page of ListLayers: the layer names; their versions come from ListLayerVersions.
pub fn layers_page(body: &[u8]) -> Result<Page<Layer>, Error> {
    page(body, "ListLayers", "Layers", "lambda_layer")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerVersion {
    version: u64,
    layer_version_arn: Option<String>,
    description: Option<String>,
    created_date: Option<String>,
    license_info: Option<String>,
    #[serde(default)]
    compatible_runtimes: Option<Vec<String>>,
    #[serde(default)]
    compatible_architectures: Option<Vec<String>>,
    content: Option<LayerContent>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LayerContent {
    code_size: Option<u64>,
}

/// A page of ListLayerVersions.
pub fn layer_versions_page(body: &[u8]) -> Result<Page<LayerVersion>, Error> {
    page(body, "ListLayerVersions", "LayerVersions", "lambda_layer")
}

/// One layer version as a resource (`name:version`). Versions, not layers, are what
/// functions use, what is deleted (DeleteLayerVersion) and what is billed as storage, so
/// each is a resource of its own and a function's `layer` relation finds its target.
pub fn layer_version_resource(
    layer: &str,
    v: LayerVersion,
    latest: u64,
    scope: &Scope,
) -> Resource {
    let id = format!("{layer}:{}", v.version);
    let arn = present(v.layer_version_arn.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| scope.arn("lambda", &format!("layer:{id}")));
    let mut meta = Map::new();
    meta.insert("layer_name".into(), Value::String(layer.to_owned()));
    meta.insert("version".into(), Value::from(v.version));
    meta.insert("latest".into(), Value::Bool(v.version == latest));
    for (k, val) in [
        ("description", v.description),
        ("created_date", v.created_date),
        ("license_info", v.license_info),
    ] {
        if let Some(val) = present(val.as_deref()) {
            meta.insert(k.into(), Value::String(val.to_owned()));
        }
    }
    meta.insert(
        "compatible_runtimes".into(),
        Value::from(ids(v.compatible_runtimes)),
    );
    meta.insert(
        "compatible_architectures".into(),
        Value::from(ids(v.compatible_architectures)),
    );
    if let Some(size) = v.content.and_then(|c| c.code_size) {
        meta.insert("code_size".into(), Value::from(size));
    }
    Resource {
        resource_type: "lambda_layer".into(),
        identifier: id.clone(),
        arn,
        name: id,
        region: scope.region.to_owned(),
        state: None,
        tags: Vec::new(),
        relations: Vec::new(),
        metadata: Value::Object(meta).to_string(),
    }
}

/// The highest version number, which AWS lists first but no contract promises.
pub fn latest(versions: &[LayerVersion]) -> u64 {
    versions.iter().map(|v| v.version).max().unwrap_or(0)
}

fn present(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn ids(list: Option<Vec<String>>) -> Vec<String> {
    list.unwrap_or_default()
        .into_iter()
        .filter_map(|s| present(Some(&s)).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudops_scanner_sdk::testing::fixture;

    const SCOPE: Scope<'static> = Scope {
        partition: "aws",
        region: "us-west-2",
        account: "123456789012",
    };

    fn meta(r: &Resource) -> Value {
        serde_json::from_str(&r.metadata).unwrap()
    }

    fn relations(r: &Resource) -> Vec<(&str, &str)> {
        r.relations
            .iter()
            .map(|x| (&x.kind[..], &x.target_arn[..]))
            .collect()
    }

    #[test]
    fn a_vpc_function_with_a_layer_becomes_a_resource_with_relations() {
        let page = functions_page(&fixture("moto_list_functions.json")).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(page.next_token, None);
        let mut items = page.items.into_iter();
        let api = items.next().unwrap();
        let tags = tags(&fixture("moto_tags_api.json")).unwrap();
        let r = function_resource(api, Some(tags), &SCOPE);
        assert_eq!(r.resource_type, "lambda_function");
        assert_eq!(r.identifier, "api");
        assert_eq!(r.arn, "arn:aws:lambda:us-west-2:123456789012:function:api");
        assert_eq!(r.region, "us-west-2");
        assert_eq!(r.state.as_deref(), Some("Active"));
        assert_eq!(r.tags, [tag("env", "prod")]);
        assert_eq!(
            relations(&r),
            [
                ("role", "arn:aws:iam::123456789012:role/fn-role"),
                (
                    "subnet",
                    "arn:aws:ec2:us-west-2:123456789012:subnet/subnet-63976bf47eb390f42"
                ),
                (
                    "security_group",
                    "arn:aws:ec2:us-west-2:123456789012:security-group/sg-8f04a23d99ebf034d"
                ),
                (
                    "layer",
                    "arn:aws:lambda:us-west-2:123456789012:layer:shared-libs:2"
                ),
            ]
        );
        assert_eq!(
            meta(&r),
            json!({
                "runtime": "python3.12",
                "handler": "index.handler",
                "role": "arn:aws:iam::123456789012:role/fn-role",
                "last_modified": "2026-11-27T17:05:52.206884000Z",
                "package_type": "Zip",
                "version": "$LATEST",
                "vpc_id": "vpc-123abc",
                "memory_size": 256,
                "timeout": 30,
                "code_size": 141,
                "ephemeral_storage": 512,
                "architectures": ["arm64"],
                "subnet_ids": ["subnet-63976bf47eb390f42"],
                "security_group_ids": ["sg-8f04a23d99ebf034d"],
                "layers": ["arn:aws:lambda:us-west-2:123456789012:layer:shared-libs:2"],
            })
        );

        let worker = function_resource(items.next().unwrap(), None, &SCOPE);
        assert_eq!(
            relations(&worker),
            [("role", "arn:aws:iam::123456789012:role/fn-role")]
        );
        let m = meta(&worker);
        assert_eq!(m["subnet_ids"], json!([]));
        assert_eq!(m["_unread"], json!(["tags"]), "null VpcConfig, unread tags");
    }

    #[test]
    fn odd_functions_are_warnings_and_the_page_goes_on() {
        let page = functions_page(&fixture("list_functions_page1.json")).unwrap();
        assert_eq!(page.next_token.as_deref(), Some("bWFya2VyLTE="));
        let names: Vec<_> = page.items.iter().map(|f| &f.function_name[..]).collect();
        assert_eq!(names, ["orders-api"]);
        assert_eq!(page.warnings.len(), 2, "{:?}", page.warnings);
        assert!(page.warnings[0]
            .starts_with("ListFunctions: skipped an item: cannot parse Function: invalid type"));
        assert_eq!(
            page.warnings[1],
            "ListFunctions: skipped a function without a name"
        );
        let r = function_resource(page.items.into_iter().next().unwrap(), Some(vec![]), &SCOPE);
        assert_eq!(
            r.arn, "arn:aws:lambda:us-west-2:123456789012:function:orders-api",
            "built from the name when the listing leaves the ARN out"
        );
        assert_eq!(r.state, None, "AWS leaves State out of ListFunctions");
    }

    #[test]
    fn aliases_point_at_their_function_with_routing() {
        let page = aliases_page(&fixture("moto_aliases_api.json")).unwrap();
        let fn_arn = "arn:aws:lambda:us-west-2:123456789012:function:api";
        let [a] = &page
            .items
            .into_iter()
            .map(|a| alias_resource(a, "api", fn_arn, &SCOPE))
            .collect::<Vec<_>>()[..]
        else {
            panic!("one alias");
        };
        assert_eq!(a.identifier, "api:live");
        assert_eq!(
            a.arn,
            "arn:aws:lambda:us-west-2:123456789012:function:api:live"
        );
        assert_eq!(relations(a), [("function", fn_arn)]);
        assert_eq!(
            meta(a),
            json!({
                "function_name": "api",
                "alias_name": "live",
                "function_version": "1",
                "description": "prod traffic",
                "revision_id": "45596a5f-1bae-48bf-9f39-bacc0b1e2ff8",
                "routing": {},
            })
        );
        let weighted = br#"{"Aliases":[{"Name":"canary","FunctionVersion":"3","RoutingConfig":{"AdditionalVersionWeights":{"4":0.1}}}],"NextMarker":null}"#;
        let page = aliases_page(weighted).unwrap();
        let a = alias_resource(
            page.items.into_iter().next().unwrap(),
            "api",
            fn_arn,
            &SCOPE,
        );
        assert_eq!(a.arn, format!("{fn_arn}:canary"));
        assert_eq!(meta(&a)["routing"], json!({"4": 0.1}));
        assert!(aliases_page(&fixture("moto_aliases_worker.json"))
            .unwrap()
            .items
            .is_empty());
    }

    #[test]
    fn each_layer_version_is_a_resource_and_the_newest_is_marked() {
        let layers = layers_page(&fixture("moto_list_layers.json")).unwrap();
        assert_eq!(layers.items[0].layer_name, "shared-libs");
        let versions = layer_versions_page(&fixture("moto_layer_versions.json")).unwrap();
        let latest = latest(&versions.items);
        assert_eq!(latest, 2);
        let rs: Vec<_> = versions
            .items
            .into_iter()
            .map(|v| layer_version_resource("shared-libs", v, latest, &SCOPE))
            .collect();
        let ids: Vec<_> = rs.iter().map(|r| &r.identifier[..]).collect();
        assert_eq!(ids, ["shared-libs:2", "shared-libs:1"]);
        assert_eq!(
            rs[0].arn,
            "arn:aws:lambda:us-west-2:123456789012:layer:shared-libs:2"
        );
        assert_eq!(
            meta(&rs[1]),
            json!({
                "layer_name": "shared-libs",
                "version": 1,
                "latest": false,
                "description": "common code",
                "created_date": "2026-11-27T17:05:52.161+0000",
                "compatible_runtimes": ["python3.12"],
                "compatible_architectures": [],
                "code_size": 141,
            })
        );
        assert_eq!(meta(&rs[0])["latest"], true);
    }

    #[test]
    fn other_bodies_are_errors_not_empty_pages() {
        let err = functions_page(b"<!DOCTYPE html><html><body>502</body></html>").unwrap_err();
        assert!(
            err.to_string().starts_with("cannot parse ListFunctions: "),
            "{err}"
        );
        let err = functions_page(&fixture("moto_list_layers.json")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse ListFunctions: the response has no `Functions`"
        );
        let err = aliases_page(br#"{"Aliases": {}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse ListAliases: `Aliases` is {}, not a list"
        );
        assert!(layers_page(b"").is_err());
        assert!(tags(b"<html/>").is_err());
        assert!(tags(br#"{}"#).is_err(), "no `Tags` is not \"no tags\"");
        assert!(tags(br#"{"Tags": {}}"#).unwrap().is_empty());
    }
}
