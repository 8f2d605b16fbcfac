//! Elastic Load Balancing v2 scanner: application, network and gateway load balancers.

use std::collections::HashMap;

use cloudops_scanner_sdk::query::{paginate_with, QueryRequest};
use cloudops_scanner_sdk::xml::{first_element, first_text, fragments};
use cloudops_scanner_sdk::{arn, log, name_from_tags, normalize_tags, tag, Constraints, Emitter};
use cloudops_scanner_sdk::{Error, PluginInfo, Relation, Resource, ResourceTypeInfo};
use cloudops_scanner_sdk::{ScanContext, ScanSummary, Scanner, Tag};

const SERVICE: &str = "elasticloadbalancing";
const VERSION: &str = "2015-12-01";

struct Elb;

impl Scanner for Elb {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "elb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec![SERVICE.into()],
            resource_types: vec![ResourceTypeInfo {
                name: "elb_load_balancer".into(),
                actions: vec![
                    "elasticloadbalancing:DeleteLoadBalancer".into(),
                    "elasticloadbalancing:ModifyLoadBalancerAttributes".into(),
                ],
            }],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        let mut out = Emitter::new();
        let warnings = scan_with(&ctx, QueryRequest::send, &mut out)?;
        warnings.iter().for_each(|w| log::warn(w));
        Ok(ScanSummary { resources: out.finish(), warnings })
    }

    fn analyze(r: Resource) -> Constraints {
        // A load balancer has no stopped state: deleting it is the only change there is.
        let state = r.state.unwrap_or_default();
        let can_delete = matches!(state.as_str(), "active" | "active_impaired" | "failed");
        let mut notes = vec!["not scanned: listeners, target groups, deletion protection".into()];
        if !can_delete {
            notes.push(format!("load balancer is {state:?}; wait before deleting it"));
        }
        let (can_stop, can_start, has_backups, has_dependencies) = (false, false, false, false);
        Constraints { can_stop, can_start, can_delete, has_backups, has_dependencies, notes }
    }
}

/// The whole scan over any `send`, so tests can replay recorded responses.
fn scan_with(
    ctx: &ScanContext,
    mut send: impl FnMut(&QueryRequest) -> Result<Vec<u8>, Error>,
    out: &mut Emitter,
) -> Result<Vec<String>, String> {
    let request = |marker: Option<&str>| {
        QueryRequest::new(SERVICE, "DescribeLoadBalancers", VERSION).param_opt("Marker", marker)
    };
    // Each item on its own: one without an ARN costs a warning, not the scan.
    let mut warnings = Vec::new();
    let pages = paginate_with(&mut send, request, |body| {
        let (doc, items) = members(body, "DescribeLoadBalancers", "LoadBalancers")?;
        let mut found = Vec::new();
        for item in items {
            match text(item, "LoadBalancerArn") {
                Some(arn) => found.push((arn, item.to_owned())),
                None => warnings.push("skipped a load balancer without an ARN".into()),
            }
        }
        Ok((found, text(doc, "NextMarker")))
    })
    .map_err(|e| format!("DescribeLoadBalancers failed: {e}"))?;
    warnings.extend(pages.warnings);

    // DescribeTags takes at most 20 load balancers per call.
    for chunk in pages.items.chunks(20) {
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
    Ok(warnings)
}

/// The `<member>`s of `list` in a response to `action`. Any other body, such as a proxy's
/// HTML error page, fails the listing instead of reading as "no load balancers here".
fn members<'a>(body: &'a [u8], action: &str, list: &str) -> Result<(&'a str, Vec<&'a str>), Error> {
    let (root, result) = (format!("{action}Response"), format!("{action}Result"));
    let doc = std::str::from_utf8(body).unwrap_or_default();
    if first_element(doc).as_deref() != Some(root.as_str()) {
        return Err(Error::parse(&root, "the response is some other document"));
    }
    Ok((doc, fragments(doc, &[&root, &result, list, "member"])?))
}

/// The tags of each load balancer in a DescribeTags response, by ARN.
fn tags_of(body: &[u8]) -> Result<HashMap<String, Vec<Tag>>, Error> {
    let field = |xml: &str, name: &str| first_text(xml, name).unwrap_or_default();
    let mut tags = HashMap::new();
    for item in members(body, "DescribeTags", "TagDescriptions")?.1 {
        let pairs = fragments(item, &["member", "Tags", "member"])?;
        let pairs = pairs.iter().map(|t| tag(field(t, "Key"), field(t, "Value")));
        tags.insert(field(item, "ResourceArn"), normalize_tags(pairs));
    }
    Ok(tags)
}

/// One `<member>` of DescribeLoadBalancers as a resource.
fn load_balancer(ctx: &ScanContext, lb_arn: &str, item: &str, tags: Vec<Tag>) -> Resource {
    let vpc = text(item, "VpcId");
    let mut relations: Vec<Relation> = vpc.iter().map(|v| link(ctx, "vpc", "vpc", v)).collect();
    let subnets = texts(item, &["member", "AvailabilityZones", "member", "SubnetId"]);
    relations.extend(subnets.iter().map(|s| link(ctx, "subnet", "subnet", s)));
    let groups = texts(item, &["member", "SecurityGroups", "member"]);
    relations.extend(groups.iter().map(|g| link(ctx, "security_group", "security-group", g)));
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

/// A relation to a VPC, subnet or security group: ELB names them by id, relations by ARN.
fn link(ctx: &ScanContext, kind: &str, ec2_kind: &str, id: &str) -> Relation {
    let (partition, region, account) = (&ctx.partition, &ctx.region, &ctx.account_id);
    let target_arn = arn(partition, "ec2", region, account, &format!("{ec2_kind}/{id}"));
    Relation { kind: kind.into(), target_arn }
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
