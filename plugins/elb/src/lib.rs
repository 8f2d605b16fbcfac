//! Elastic Load Balancing v2 scanner: application, network and gateway load balancers.

use std::collections::HashMap;

use cloudops_scanner_sdk::query::{self, QueryRequest};
use cloudops_scanner_sdk::xml::{first_text, fragments, Listing};
use cloudops_scanner_sdk::{constraints, name_from_tags, normalize_tags, relation, run_scan, tag};
use cloudops_scanner_sdk::{resource_type, ScanContext, ScanSummary, Scanner, Scope, Tag};
use cloudops_scanner_sdk::{Constraints, Emitter, Error, PluginInfo, Relation, Resource, UNREAD};

const SERVICE: &str = "elasticloadbalancing";
const VERSION: &str = "2015-12-01";

struct Elb;

impl Scanner for Elb {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "elb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec![SERVICE.into()],
            resource_types: vec![resource_type(
                "elb_load_balancer",
                &[
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                ],
            )],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        run_scan(&ctx, QueryRequest::send, scan_with)
    }

    fn analyze(r: Resource) -> Constraints {
        // A load balancer has no stopped state: deleting it is the only change there is.
        let state = r.state.unwrap_or_default();
        let mut c = constraints::none();
        c.can_delete = matches!(state.as_str(), "active" | "active_impaired" | "failed");
        c.notes.push("not scanned: listeners, target groups, deletion protection".into());
        if !c.can_delete {
            c.notes.push(format!("load balancer is {state:?}; wait before deleting it"));
        }
        c
    }
}

/// The whole scan over any `send`, so tests can replay recorded responses.
fn scan_with(
    ctx: &ScanContext,
    mut send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    out: &mut Emitter,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let request = |marker: Option<&str>| {
        QueryRequest::new(SERVICE, "DescribeLoadBalancers", VERSION).param_opt("Marker", marker)
    };
    let listing = Listing::members("DescribeLoadBalancers", "LoadBalancers", "member");
    let listing = listing.token("NextMarker").of_type("elb_load_balancer");
    let parse = |body: &[u8]| {
        listing.parse_fragments(body, |item, _| match text(item, "LoadBalancerArn") {
            Some(arn) => Ok(Some((arn, item.to_owned()))),
            None => Err("a load balancer without an ARN".into()),
        })
    };
    let mut found = Vec::new();
    query::list(&mut send, request, parse, &mut found, warnings)?;

    // DescribeTags takes at most 20 load balancers per call.
    for chunk in found.chunks(20) {
        let arns = chunk.iter().map(|(arn, _)| arn.clone());
        let req = QueryRequest::new(SERVICE, "DescribeTags", VERSION);
        let req = req.param_list("ResourceArns.member", arns);
        // Tags that failed to read are `None`, so the host keeps the ones it knew.
        let mut tags = match send(&req).and_then(|body| tags_of(&body, warnings)) {
            Ok(tags) => tags,
            Err(e) => {
                warnings.push(format!("DescribeTags failed: {e}"));
                HashMap::new()
            }
        };
        for (arn, item) in chunk {
            out.push(load_balancer(ctx, arn, item, tags.remove(arn)));
        }
    }
    Ok(())
}

/// The tags of each load balancer in a DescribeTags response, by ARN. A load balancer
/// missing from the answer, or with a tag that does not read, is left out: its tags are
/// unread, not none.
fn tags_of(body: &[u8], warnings: &mut Vec<String>) -> Result<HashMap<String, Vec<Tag>>, Error> {
    let listing = Listing::members("DescribeTags", "TagDescriptions", "member");
    // An odd description is no lost resource: its load balancer's tags are just unread.
    let page = listing.parse_fragments(body, |item, warnings| {
        let Some(arn) = text(item, "ResourceArn") else {
            warnings.push("DescribeTags: a tag description without ResourceArn".into());
            return Ok(None);
        };
        let mut tags = Vec::new();
        for pair in fragments(item, &["member", "Tags", "member"]).map_err(|e| e.to_string())? {
            let Some(key) = text(pair, "Key") else {
                warnings.push(format!("DescribeTags: a tag of {arn} without a key"));
                return Ok(None);
            };
            tags.push(tag(key, first_text(pair, "Value").unwrap_or_default()));
        }
        Ok(Some((arn, normalize_tags(tags))))
    })?;
    Ok(page.split(warnings).0.into_iter().collect())
}

/// One `<member>` of DescribeLoadBalancers as a resource; `tags` is `None` when they could
/// not be read.
fn load_balancer(ctx: &ScanContext, lb_arn: &str, item: &str, tags: Option<Vec<Tag>>) -> Resource {
    let scope = Scope::of(ctx);
    let link = |kind: &str, ec2_kind: &str, id: &String| relation(kind, scope.ec2(ec2_kind, id));
    let vpc = text(item, "VpcId");
    let mut relations: Vec<Relation> = vpc.iter().map(|v| link("vpc", "vpc", v)).collect();
    let subnets = texts(item, &["member", "AvailabilityZones", "member", "SubnetId"]);
    relations.extend(subnets.iter().map(|s| link("subnet", "subnet", s)));
    let groups = texts(item, &["member", "SecurityGroups", "member"]);
    relations.extend(groups.iter().map(|g| link("security_group", "security-group", g)));
    let mut metadata = serde_json::json!({
        "type": text(item, "Type"),
        "scheme": text(item, "Scheme"),
        "dns_name": text(item, "DNSName"),
        "vpc_id": vpc,
        "availability_zones": texts(item, &["member", "AvailabilityZones", "member", "ZoneName"]),
        "created_time": text(item, "CreatedTime"),
    });
    let lb_name = text(item, "LoadBalancerName").unwrap_or_else(|| lb_arn.to_owned());
    // The name may come from the `Name` tag, so it is as unread as the tags.
    if tags.is_none() {
        metadata[UNREAD] = serde_json::json!(["tags", "name"]);
    }
    let tags = tags.unwrap_or_default();
    Resource {
        resource_type: "elb_load_balancer".into(),
        identifier: lb_arn.to_owned(),
        arn: lb_arn.to_owned(),
        name: name_from_tags(&tags, &lb_name),
        region: ctx.region.clone(),
        state: text(item, "Code"),
        tags,
        relations,
        metadata: metadata.to_string(),
    }
}

/// The text of the first `<name>` in `xml`, if it has any.
fn text(xml: &str, name: &str) -> Option<String> {
    first_text(xml, name).filter(|t| !t.is_empty())
}

/// The texts of all elements at `path` in `xml`.
fn texts(xml: &str, path: &[&str]) -> Vec<String> {
    let found = fragments(xml, path).unwrap_or_default();
    found.iter().filter_map(|f| first_text(f, path[path.len() - 1])).collect()
}

cloudops_scanner_sdk::export!(Elb);

#[cfg(test)]
mod tests;
