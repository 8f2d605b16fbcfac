//! Load balancers.

use serde_json::json;

use super::super::plan::{LbPlan, SubnetRef};
use super::{micro_time, rel, tags_of, Region};
use crate::resource::Resource;

/// A load balancer.
pub(super) fn load_balancer(r: &Region, i: usize, lb: &LbPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
    let arn = r.ids[&i].clone();
    let vpc = r.vpc_id(lb.vpc);
    let mut relations = vec![rel("vpc", r.ec2_arn("vpc", &vpc))];
    let mut zones = Vec::new();
    for s in &lb.subnets {
        relations.push(rel("subnet", r.ec2_arn("subnet", &r.subnet_id(*s))));
        zones.push(match s {
            SubnetRef::Default(z) => r.zones[*z].clone(),
            SubnetRef::File(k) => r.estate.plan.get(*k).zone.clone(),
        });
    }
    for g in &lb.security_groups {
        relations.push(rel(
            "security_group",
            r.ec2_arn("security-group", &r.group_id(*g)),
        ));
    }
    let meta = json!({
        "availability_zones": zones,
        "created_time": micro_time(&arn),
        "dns_name": format!("{key}-1.{}.elb.amazonaws.com", r.region),
        "scheme": lb.scheme,
        "type": lb.lb_type,
        "vpc_id": vpc,
    });
    let name = spec
        .tags
        .get("Name")
        .cloned()
        .unwrap_or_else(|| key.to_owned());
    out.push(r.resource(
        "elb_load_balancer",
        arn.clone(),
        arn,
        name,
        Some("active"),
        tags_of(None, &spec.tags),
        relations,
        meta,
    ));
}
