//! Elastic Load Balancing v2 scanner: application, network and gateway load balancers.

use std::collections::HashMap;

use cloudops_scanner_sdk::query::{self, QueryRequest};
use cloudops_scanner_sdk::xml::{first_text, fragments, Listing};
use cloudops_scanner_sdk::{constraints, name_from_tags, normalize_tags, relation, run_scan, tag};
use cloudops_scanner_sdk::{resource_type, ScanContext, ScanSummary, Scanner, Scope, Tag};
use cloudops_scanner_sdk::{Constraints, Emitter, Error, PluginInfo, Relation, Resource};

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
    let listing = listing.token("NextMarker");
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
        let tags = send(&req).and_then(|body| tags_of(&body));
        let mut tags = tags.map_err(|e| format!("DescribeTags failed: {e}"))?;
        for (arn, item) in chunk {
            let tags = tags.remove(arn).unwrap_or_default();
            out.push(load_balancer(ctx, arn, item, tags));
        }
    }
    Ok(())
}

/// The tags of each load balancer in a DescribeTags response, by ARN.
fn tags_of(body: &[u8]) -> Result<HashMap<String, Vec<Tag>>, Error> {
    let field = |xml: &str, name: &str| first_text(xml, name).unwrap_or_default();
    let listing = Listing::members("DescribeTags", "TagDescriptions", "member");
    let page = listing.parse_fragments(body, |item, _| {
        let pairs = fragments(item, &["member", "Tags", "member"]).unwrap_or_default();
        let pairs = pairs.iter().map(|t| tag(field(t, "Key"), field(t, "Value")));
        Ok(Some((field(item, "ResourceArn"), normalize_tags(pairs))))
    })?;
    Ok(page.items.into_iter().collect())
}

/// One `<member>` of DescribeLoadBalancers as a resource.
fn load_balancer(ctx: &ScanContext, lb_arn: &str, item: &str, tags: Vec<Tag>) -> Resource {
    let scope = Scope::of(ctx);
    let link = |kind: &str, ec2_kind: &str, id: &String| relation(kind, scope.ec2(ec2_kind, id));
    let vpc = text(item, "VpcId");
    let mut relations: Vec<Relation> = vpc.iter().map(|v| link("vpc", "vpc", v)).collect();
    let subnets = texts(item, &["member", "AvailabilityZones", "member", "SubnetId"]);
    relations.extend(subnets.iter().map(|s| link("subnet", "subnet", s)));
    let groups = texts(item, &["member", "SecurityGroups", "member"]);
    relations.extend(groups.iter().map(|g| link("security_group", "security-group", g)));
    let metadata = serde_json::json!({
        "type": text(item, "Type"),
        "scheme": text(item, "Scheme"),
        "dns_name": text(item, "DNSName"),
        "vpc_id": vpc,
        "availability_zones": texts(item, &["member", "AvailabilityZones", "member", "ZoneName"]),
        "created_time": text(item, "CreatedTime"),
    });
    let lb_name = text(item, "LoadBalancerName").unwrap_or_else(|| lb_arn.to_owned());
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
