//! The default VPC and its subnets, every VPC's default group, and the file's VPCs,
//! subnets and security groups.

use serde_json::json;

use super::super::plan::{Ix, Rule, RuleSource, SgPlan, SubnetPlan, SubnetRef, VpcPlan, VpcRef};
use std::net::Ipv4Addr;

use super::super::check::{cidr_text, parse_cidr};
use super::super::zone_id;
use super::{rel, tags_of, Region};
use crate::resource::Resource;
use crate::resource::Tag;

/// The default VPC, its subnets, and the default group of every VPC.
pub(super) fn default_network(r: &Region, indices: &[usize], out: &mut Vec<Resource>) {
    out.push(vpc_resource(
        r,
        r.default_vpc.clone(),
        "172.31.0.0/16",
        true,
        Vec::new(),
    ));
    for (z, zone) in r.zones.iter().enumerate() {
        let id = r.default_subnets[z].clone();
        let cidr = cidr_text(
            u32::from(Ipv4Addr::new(172, 31, 0, 0)) + z as u32 * 4096,
            20,
        );
        let used = r
            .in_subnet
            .get(&SubnetRef::Default(z))
            .copied()
            .unwrap_or(0);
        out.push(subnet_resource(
            r,
            id,
            VpcRef::Default,
            &cidr,
            zone,
            true,
            used,
            Vec::new(),
        ));
    }
    let mut vpcs = vec![VpcRef::Default];
    vpcs.extend(
        indices
            .iter()
            .filter_map(|&i| Ix::of(i, &r.estate.resources[i]))
            .map(VpcRef::File),
    );
    for v in vpcs {
        out.push(group_resource(
            r,
            r.default_groups[&v].clone(),
            "default",
            "default VPC security group",
            v,
            &[],
            Vec::new(),
        ));
    }
}

/// A VPC of the file.
pub(super) fn vpc(r: &Region, i: usize, v: &VpcPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let tags = tags_of(Some(spec.key()), &spec.tags);
    out.push(vpc_resource(r, r.ids[&i].clone(), &v.cidr, false, tags));
}

/// A subnet of the file.
pub(super) fn subnet(r: &Region, i: usize, s: &SubnetPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let used = Ix::of(i, spec)
        .and_then(|s| r.in_subnet.get(&SubnetRef::File(s)))
        .copied()
        .unwrap_or(0);
    out.push(subnet_resource(
        r,
        r.ids[&i].clone(),
        VpcRef::File(s.vpc),
        &s.cidr,
        &s.zone,
        false,
        used,
        tags_of(Some(spec.key()), &spec.tags),
    ));
}

/// A security group of the file.
pub(super) fn group(r: &Region, i: usize, g: &SgPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    out.push(group_resource(
        r,
        r.ids[&i].clone(),
        spec.key(),
        &g.description,
        g.vpc,
        &g.ingress,
        tags_of(Some(spec.key()), &spec.tags),
    ));
}

fn vpc_resource(r: &Region, id: String, cidr: &str, default: bool, tags: Vec<Tag>) -> Resource {
    let name = tags
        .iter()
        .find(|t| t.key == "Name")
        .map_or_else(|| id.clone(), |t| t.value.clone());
    let meta = json!({
        "cidr_block": cidr,
        "cidr_blocks": [cidr],
        "dhcp_options_id": "default",
        "instance_tenancy": "default",
        "is_default": default,
        "owner_id": r.account,
    });
    r.resource(
        "vpc",
        id.clone(),
        r.ec2_arn("vpc", &id),
        name,
        Some("available"),
        tags,
        Vec::new(),
        meta,
    )
}

#[allow(clippy::too_many_arguments)]
fn subnet_resource(
    r: &Region,
    id: String,
    vpc: VpcRef,
    cidr: &str,
    zone: &str,
    default: bool,
    used: u32,
    tags: Vec<Tag>,
) -> Resource {
    let name = tags
        .iter()
        .find(|t| t.key == "Name")
        .map_or_else(|| id.clone(), |t| t.value.clone());
    let (_, prefix) = parse_cidr(cidr).expect("checked");
    let vpc_id = r.vpc_id(vpc);
    let meta = json!({
        "availability_zone": zone,
        "availability_zone_id": zone_id(zone),
        "available_ip_address_count": (1u64 << (32 - prefix)) - 5 - u64::from(used),
        "cidr_block": cidr,
        "default_for_az": default,
        "map_public_ip_on_launch": default,
        "owner_id": r.account,
        "vpc_id": vpc_id,
    });
    r.resource(
        "vpc_subnet",
        id.clone(),
        r.ec2_arn("subnet", &id),
        name,
        Some("available"),
        tags,
        vec![rel("vpc", r.ec2_arn("vpc", &vpc_id))],
        meta,
    )
}

fn group_resource(
    r: &Region,
    id: String,
    group_name: &str,
    description: &str,
    vpc: VpcRef,
    ingress: &[Rule],
    tags: Vec<Tag>,
) -> Resource {
    let name = tags
        .iter()
        .find(|t| t.key == "Name")
        .map_or_else(|| group_name.to_owned(), |t| t.value.clone());
    // The emulator merges rules with the same protocol and ports into one permission,
    // in the order they first appear; the scanner lists its address ranges, then its
    // groups.
    struct Permission<'a> {
        protocol: &'a str,
        from: i32,
        to: i32,
        cidrs: Vec<String>,
        groups: Vec<String>,
    }
    let mut permissions: Vec<Permission> = Vec::new();
    for rule in ingress {
        let at = match permissions.iter().position(|p| {
            (p.protocol, p.from, p.to) == (rule.protocol, rule.from_port, rule.to_port)
        }) {
            Some(at) => at,
            None => {
                permissions.push(Permission {
                    protocol: rule.protocol,
                    from: rule.from_port,
                    to: rule.to_port,
                    cidrs: Vec::new(),
                    groups: Vec::new(),
                });
                permissions.len() - 1
            }
        };
        match &rule.source {
            RuleSource::Cidr(c) => permissions[at].cidrs.push(c.clone()),
            RuleSource::Group(g) => permissions[at].groups.push(r.group_id(*g)),
        }
    }
    let mut rules = Vec::new();
    let mut open = false;
    for p in &permissions {
        let (from, to) = (&p.from, &p.to);
        let what = match p.protocol {
            "-1" => "all".to_owned(),
            "icmp" => "icmp".to_owned(),
            p if (*from, *to) == (0, 65535) => format!("{p} all"),
            p if from == to => format!("{p} {from}"),
            p => format!("{p} {from}-{to}"),
        };
        for source in p.cidrs.iter().chain(&p.groups) {
            open |= source == "0.0.0.0/0";
            rules.push(format!("{what} from {source}"));
        }
    }
    let vpc_id = r.vpc_id(vpc);
    let mut meta = json!({
        "description": description,
        "egress": ["all to 0.0.0.0/0"],
        "egress_rule_count": 1,
        "group_name": group_name,
        "ingress_rule_count": rules.len(),
        "open_to_world": open,
        "owner_id": r.account,
        "vpc_id": vpc_id,
    });
    if !rules.is_empty() {
        meta["ingress"] = rules.into();
    }
    r.resource(
        "vpc_security_group",
        id.clone(),
        r.ec2_arn("security-group", &id),
        name,
        None,
        tags,
        vec![rel("vpc", r.ec2_arn("vpc", &vpc_id))],
        meta,
    )
}
