//! VPCs, subnets and security groups: what everything else refers to.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::super::attrs::VpcSubnetAttrs;
use super::super::check::{cidr_contains, cidr_text, cidrs_overlap, parse_cidr, parse_rule};
use super::super::plan::{Ix, Rule, RuleSource, SgPlan, SubnetPlan, VpcIx, VpcPlan, VpcRef};
use super::super::validate::Ctx;
use super::super::{zones, Attrs, ResourceSpec};
use super::{group_ref, Out};

/// A CIDR block: address and prefix length.
type Block = (u32, u8);

/// Each VPC's block: its own, or the next free 10.n.0.0/16 of its account and region.
pub(super) fn vpcs(ctx: &Ctx, out: &mut Out) {
    let mut ordinal: HashMap<(String, String), u32> = HashMap::new();
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::Vpc(a) = &r.attrs else { continue };
        let n = ordinal
            .entry((r.account.clone(), r.region.clone()))
            .or_default();
        let cidr = match &a.cidr {
            Some(c) => match parse_cidr(c) {
                Some(p) if (16..=28).contains(&p.1) => p,
                _ => {
                    ctx.problem(
                        format!("resources[{i}].attrs.cidr"),
                        format!("`{c}` is not an IPv4 block from /16 to /28 (10.0.0.0/16)"),
                    );
                    continue;
                }
            },
            None => (u32::from(Ipv4Addr::new(10, (*n % 256) as u8, 0, 0)), 16),
        };
        *n += 1;
        out.set(
            i,
            VpcPlan {
                cidr: cidr_text(cidr.0, cidr.1),
            },
        );
    }
}

/// The subnets: their VPC, then blocks (the file's first, then defaults in the gaps), then
/// zones (the file's, else the region's in turn per VPC).
pub(super) fn subnets(ctx: &mut Ctx, out: &mut Out) {
    let mut taken: HashMap<VpcIx, Vec<Block>> = HashMap::new();
    let mut placed = Vec::new();
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::VpcSubnet(a) = &r.attrs else {
            continue;
        };
        let Some((vpc, vpc_block)) = subnet_vpc(ctx, out, i, r, a) else {
            continue;
        };
        if let Some(c) = &a.cidr {
            claim_block(ctx, &mut taken, i, c, vpc, vpc_block);
        }
        placed.push((i, vpc, vpc_block));
    }
    let mut next_block: HashMap<VpcIx, u32> = HashMap::new();
    let mut zone_turn: HashMap<VpcIx, usize> = HashMap::new();
    for (i, vpc, vpc_block) in placed {
        let r = &ctx.resources[i];
        let Attrs::VpcSubnet(a) = &r.attrs else {
            continue;
        };
        let region_zones = zones(&r.region).expect("regions were checked");
        let turn = zone_turn.entry(vpc).or_default();
        let zone = match &a.availability_zone {
            Some(z) if region_zones.contains(z) => z.clone(),
            Some(z) => {
                ctx.problem(
                    format!("resources[{i}].attrs.availability_zone"),
                    format!(
                        "`{z}` is not a zone of {} ({})",
                        r.region,
                        region_zones.join(", ")
                    ),
                );
                continue;
            }
            None => region_zones[*turn % region_zones.len()].clone(),
        };
        *turn += 1;
        let cidr = match &a.cidr {
            Some(c) => c.clone(),
            None => {
                let next = next_block.entry(vpc).or_default();
                match free_block(vpc_block, next, taken.get(&vpc).map_or(&[], |t| t)) {
                    Some(b) => cidr_text(b.0, b.1),
                    None => {
                        ctx.problem(
                            format!("resources[{i}].attrs.cidr"),
                            "the VPC has no free block left for this subnet; give the VPC a \
                             larger `cidr`",
                        );
                        continue;
                    }
                }
            }
        };
        let Some(subnet) = Ix::of(i, r) else { continue };
        ctx.vpc_subnets.entry(vpc).or_default().push(subnet);
        out.set(i, SubnetPlan { vpc, cidr, zone });
    }
}

/// The VPC a subnet is in (the file's first by default) and its block; `None` if the VPC
/// is missing (reported) or has a problem of its own.
fn subnet_vpc(
    ctx: &Ctx,
    out: &Out,
    i: usize,
    r: &ResourceSpec,
    a: &VpcSubnetAttrs,
) -> Option<(VpcIx, Block)> {
    let names = ctx.names_of(r);
    let vpc = match &a.vpc {
        Some(v) => super::named_vpc(ctx, i, r, v)?,
        None => match names.vpc_order.first() {
            Some(&j) => j,
            None => {
                ctx.problem(
                    format!("resources[{i}].attrs.vpc"),
                    format!(
                        "a vpc_subnet needs a vpc, and {}/{} has none in the file",
                        r.account, r.region
                    ),
                );
                return None;
            }
        },
    };
    let block = parse_cidr(&out.get(vpc)?.cidr).expect("VPC blocks are made valid");
    Some((vpc, block))
}

/// Claims the block the file gives a subnet, reporting one outside its VPC or overlapping
/// another subnet's.
fn claim_block(
    ctx: &Ctx,
    taken: &mut HashMap<VpcIx, Vec<Block>>,
    i: usize,
    cidr: &str,
    vpc: VpcIx,
    vpc_block: Block,
) {
    match parse_cidr(cidr) {
        Some(block) if cidr_contains(vpc_block, block) && block.1 <= 28 => {
            if taken
                .get(&vpc)
                .is_some_and(|t| t.iter().any(|&b| cidrs_overlap(b, block)))
            {
                ctx.problem(
                    format!("resources[{i}].attrs.cidr"),
                    format!("`{cidr}` overlaps another subnet of the VPC"),
                );
            }
            taken.entry(vpc).or_default().push(block);
        }
        _ => ctx.problem(
            format!("resources[{i}].attrs.cidr"),
            format!(
                "`{cidr}` is not a block of at most /28 inside the VPC's {}",
                cidr_text(vpc_block.0, vpc_block.1)
            ),
        ),
    }
}

/// The next block of the VPC (a /24, or a quarter of a smaller VPC) after `next` that no
/// subnet of the file claims.
fn free_block(vpc: Block, next: &mut u32, taken: &[Block]) -> Option<Block> {
    let prefix = if vpc.1 <= 22 { 24 } else { (vpc.1 + 2).min(28) };
    let size = 1u32 << (32 - prefix);
    let capacity = 1u32 << (prefix - vpc.1);
    while *next < capacity {
        let block = (vpc.0 + *next * size, prefix);
        *next += 1;
        if !taken.iter().any(|&b| cidrs_overlap(b, block)) {
            return Some(block);
        }
    }
    None
}

/// Security groups: their rules may name other groups of the same VPC.
pub(super) fn groups(ctx: &Ctx, out: &mut Out) {
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::VpcSecurityGroup(a) = &r.attrs else {
            continue;
        };
        let names = ctx.names_of(r);
        let vpc = match &a.vpc {
            Some(v) => match names.vpcs.get(v) {
                Some(&j) => VpcRef::File(j),
                None => continue, // reported while indexing
            },
            None => names.default_vpc(),
        };
        let ingress = a
            .ingress
            .iter()
            .enumerate()
            .filter_map(|(j, text)| rule(ctx, i, r, vpc, j, text))
            .collect();
        out.set(
            i,
            SgPlan {
                vpc,
                description: a
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("{} security group", r.key())),
                ingress,
            },
        );
    }
}

/// The `j`-th ingress rule of group `r`, or `None` (reported).
fn rule(ctx: &Ctx, i: usize, r: &ResourceSpec, vpc: VpcRef, j: usize, text: &str) -> Option<Rule> {
    let path = format!("resources[{i}].attrs.ingress[{j}]");
    let (protocol, from_port, to_port, source) = match parse_rule(text) {
        Ok(rule) => rule,
        Err(msg) => {
            ctx.problem(path, msg);
            return None;
        }
    };
    let source = if source.contains('/') {
        if parse_cidr(&source).is_none() {
            ctx.problem(
                path,
                format!("`{source}` is not an IPv4 block such as 10.0.0.0/8"),
            );
            return None;
        }
        RuleSource::Cidr(source)
    } else {
        match group_ref(ctx.names_of(r), vpc, &source) {
            Some(g) => RuleSource::Group(g),
            None => {
                let msg = format!(
                    "no security group `{source}` in the same VPC as `{}`",
                    r.key()
                );
                ctx.problem(path, msg);
                return None;
            }
        }
    };
    Some(Rule {
        protocol,
        from_port,
        to_port,
        source,
    })
}
