//! VPCs (step 1), subnets and security groups with the defaults AWS made (step 2), and
//! security group rules (step 3).

use super::super::estate_file::{
    zones, Resolved, ResourceKind, RuleSource, SgPlan, SubnetPlan, SubnetRef, VpcPlan, VpcRef,
};
use super::{p, tag_spec, Ids, SeedError, Site, Task};
use crate::aws::xml::texts;

/// Creates every VPC of the region; each task returns `(resource index, VPC id)`.
pub(super) fn vpcs(site: &Site, indices: &[usize]) -> Vec<Task<(usize, String)>> {
    let res = site.shared.estate.resources();
    let plan = site.shared.plan();
    let mut tasks: Vec<Task<(usize, String)>> = Vec::new();
    for &i in indices {
        let Resolved::Vpc(VpcPlan { cidr }) = &plan.resolved[i] else {
            continue;
        };
        let r = &res[i];
        let mut params = p(&[("CidrBlock", cidr)]);
        tag_spec(&mut params, 1, "vpc", r.name.as_deref(), &r.tags);
        let site = site.clone();
        let what = format!("vpc {}", r.key());
        tasks.push(Box::pin(async move {
            let body = site
                .query(ResourceKind::Vpc, &what, "ec2", "CreateVpc", &params)
                .await?;
            site.created(ResourceKind::Vpc, 1);
            Ok((i, site.id_of(&body, "vpcId", &what, "CreateVpc")?))
        }));
    }
    tasks
}

/// Creates the subnets and security groups, and learns the default VPC with its groups
/// (and its subnets, when something lives in them).
pub(super) async fn subnets_and_groups(
    site: &Site,
    indices: &[usize],
    ids: &mut Ids,
) -> Result<(), SeedError> {
    let plan = site.shared.plan();
    let mut tasks: Vec<Task<(usize, String)>> = Vec::new();
    for &i in indices {
        match &plan.resolved[i] {
            Resolved::Subnet(s) => tasks.push(subnet(site.clone(), ids, i, s)),
            Resolved::Sg(g) => tasks.push(group(site.clone(), ids, i, g)),
            _ => {}
        }
    }
    let (created, defaults) = tokio::join!(super::all(tasks), default_groups(site.clone()));
    ids.by_index.extend(created?);
    let defaults = defaults?;
    let group_ids = texts(&defaults, "groupId");
    let vpc_ids = texts(&defaults, "vpcId");
    let ours: std::collections::HashSet<&String> = ids.by_index.values().collect();
    let mut default_vpc = None;
    for (g, v) in group_ids.into_iter().zip(vpc_ids) {
        if !ours.contains(&v) {
            default_vpc = Some(v.clone());
        }
        ids.default_groups.insert(v, g);
    }
    if let Some(v) = default_vpc {
        ids.default_vpc = v;
    }
    let needs_default_subnets = indices.iter().any(|&i| match &plan.resolved[i] {
        Resolved::Instance(x) => x
            .subnets
            .iter()
            .any(|(s, _)| matches!(s, SubnetRef::Default(_))),
        Resolved::Lb(x) => x.subnets.iter().any(|s| matches!(s, SubnetRef::Default(_))),
        _ => false,
    });
    if needs_default_subnets {
        ids.default_subnets = default_subnets(site).await?;
    }
    Ok(())
}

fn subnet(site: Site, ids: &Ids, i: usize, s: &SubnetPlan) -> Task<(usize, String)> {
    let r = &site.shared.estate.resources()[i];
    let mut params = p(&[
        ("VpcId", ids.id(s.vpc)),
        ("CidrBlock", &s.cidr),
        ("AvailabilityZone", &s.zone),
    ]);
    tag_spec(&mut params, 1, "subnet", r.name.as_deref(), &r.tags);
    let what = format!("{} {}", ResourceKind::VpcSubnet, r.key());
    Box::pin(async move {
        let kind = ResourceKind::VpcSubnet;
        let body = site
            .query(kind, &what, "ec2", "CreateSubnet", &params)
            .await?;
        site.created(kind, 1);
        Ok((i, site.id_of(&body, "subnetId", &what, "CreateSubnet")?))
    })
}

fn group(site: Site, ids: &Ids, i: usize, g: &SgPlan) -> Task<(usize, String)> {
    let r = &site.shared.estate.resources()[i];
    let mut params = p(&[("GroupName", r.key()), ("GroupDescription", &g.description)]);
    if let VpcRef::File(v) = g.vpc {
        params.push(("VpcId".into(), ids.id(v).clone()));
    }
    tag_spec(&mut params, 1, "security-group", r.name.as_deref(), &r.tags);
    let what = format!("{} {}", ResourceKind::VpcSecurityGroup, r.key());
    Box::pin(async move {
        let (kind, action) = (ResourceKind::VpcSecurityGroup, "CreateSecurityGroup");
        let body = site.query(kind, &what, "ec2", action, &params).await?;
        site.created(kind, 1);
        Ok((i, site.id_of(&body, "groupId", &what, action)?))
    })
}

/// Every `default` group of the region (the default VPC's and each new VPC's).
async fn default_groups(site: Site) -> Result<Vec<u8>, SeedError> {
    site.query(
        ResourceKind::VpcSecurityGroup,
        "the default security groups",
        "ec2",
        "DescribeSecurityGroups",
        &p(&[
            ("Filter.1.Name", "group-name"),
            ("Filter.1.Value.1", "default"),
        ]),
    )
    .await
}

/// The default VPC's subnets, in the order of the region's zones.
async fn default_subnets(site: &Site) -> Result<Vec<String>, SeedError> {
    let body = site
        .query(
            ResourceKind::VpcSubnet,
            "the default subnets",
            "ec2",
            "DescribeSubnets",
            &p(&[
                ("Filter.1.Name", "default-for-az"),
                ("Filter.1.Value.1", "true"),
            ]),
        )
        .await?;
    let zones_found = texts(&body, "availabilityZone");
    let subnets = texts(&body, "subnetId");
    Ok(zones(&site.region)
        .unwrap_or_default()
        .iter()
        .map(|z| {
            zones_found
                .iter()
                .position(|x| x == z)
                .and_then(|k| subnets.get(k).cloned())
                .unwrap_or_default()
        })
        .collect())
}

/// Authorises the inbound rules of every group that has some.
pub(super) fn rules(site: &Site, indices: &[usize], ids: &Ids) -> Vec<Task<()>> {
    let res = site.shared.estate.resources();
    let plan = site.shared.plan();
    let mut tasks: Vec<Task<()>> = Vec::new();
    for &i in indices {
        let Resolved::Sg(g) = &plan.resolved[i] else {
            continue;
        };
        if g.ingress.is_empty() {
            continue;
        }
        let mut params = p(&[("GroupId", &ids.by_index[&i])]);
        for (n, rule) in g.ingress.iter().enumerate() {
            let prefix = format!("IpPermissions.{}", n + 1);
            params.push((format!("{prefix}.IpProtocol"), rule.protocol.to_owned()));
            if rule.protocol != "-1" {
                params.push((format!("{prefix}.FromPort"), rule.from_port.to_string()));
                params.push((format!("{prefix}.ToPort"), rule.to_port.to_string()));
            }
            match &rule.source {
                RuleSource::Cidr(c) => {
                    params.push((format!("{prefix}.IpRanges.1.CidrIp"), c.clone()));
                }
                RuleSource::Group(s) => {
                    params.push((format!("{prefix}.Groups.1.GroupId"), ids.group(*s)));
                }
            }
        }
        let site = site.clone();
        let what = format!("rules of security group {}", res[i].key());
        tasks.push(Box::pin(async move {
            site.query(
                ResourceKind::VpcSecurityGroup,
                &what,
                "ec2",
                "AuthorizeSecurityGroupIngress",
                &params,
            )
            .await
            .map(|_| ())
        }));
    }
    tasks
}
