//! The third check of an estate, and the plan: every reference by name is looked up, every
//! default applied. One function per resource type; they run in the order references
//! need (networks first, then what lives in them; clusters before their members; layers
//! before functions before aliases), and each reports its problems at JSON paths.

mod ec2;
mod elb;
mod lambda;
mod network;
mod rds;
mod s3;

use std::collections::BTreeSet;

use super::attrs::Attrs;
use super::plan::{Ix, Kind, Resolved, SgRef, SubnetIx, SubnetPlan, VpcIx, VpcRef};
use super::validate::{missing, Ctx, Names};
use super::ResourceSpec;

/// The plans made so far, by file index: `None` until made, and for resources with a
/// problem.
pub(super) struct Out(Vec<Option<Resolved>>);

impl Out {
    fn get<K: Kind>(&self, ix: Ix<K>) -> Option<&K> {
        self.0[ix.at()].as_ref().and_then(K::plan)
    }

    fn get_mut<K: Kind>(&mut self, ix: Ix<K>) -> Option<&mut K> {
        self.0[ix.at()].as_mut().and_then(K::plan_mut)
    }

    fn set<K: Kind>(&mut self, i: usize, plan: K) {
        self.0[i] = Some(plan.wrap());
    }
}

/// Resolves every resource, or reports why not (then the plans returned are empty).
pub(super) fn resolve(ctx: &mut Ctx) -> Vec<Resolved> {
    let resources = ctx.resources;
    let mut out = Out(vec![None; resources.len()]);
    network::vpcs(ctx, &mut out);
    network::subnets(ctx, &mut out);
    network::groups(ctx, &mut out);
    // Instances before volumes: an attached volume is in its instance's zone.
    let attached = ec2::instances(ctx, &mut out);
    ec2::volumes(ctx, &mut out, &attached);
    // Clusters before instances: members take the cluster's engine.
    rds::clusters(ctx, &mut out);
    rds::instances(ctx, &mut out);
    rds::link_replicas(ctx, &mut out);
    // One pass in file order, so that problems come in file order.
    for (i, r) in resources.iter().enumerate() {
        match &r.attrs {
            Attrs::Ec2Snapshot(a) => ec2::snapshot(ctx, &mut out, i, r, a),
            Attrs::RdsSnapshot(a) => rds::snapshot(ctx, &mut out, i, r, a),
            Attrs::S3Bucket(a) => s3::bucket(ctx, &mut out, i, a),
            Attrs::LambdaLayer(a) => lambda::layer(ctx, &mut out, i, a),
            Attrs::ElbLoadBalancer(a) => elb::load_balancer(ctx, &mut out, i, r, a),
            _ => {}
        }
    }
    // Functions name layers; aliases name functions.
    lambda::functions(ctx, &mut out);
    lambda::aliases(ctx, &mut out);
    if !ctx.problems.borrow().is_empty() {
        return Vec::new();
    }
    out.0
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                panic!(
                    "resources[{i}] was neither resolved nor reported; this is a bug in \
                     estate_file/resolve"
                )
            })
        })
        .collect()
}

/// Subnets with their plans, and the one VPC they are in.
type NamedSubnets = (Vec<(SubnetIx, SubnetPlan)>, Option<VpcIx>);

/// The subnets a resource names, each with its JSON path: their plans, in order, and the
/// one VPC they are in (none for no subnets). Missing subnets are reported, and subnets of
/// more than one VPC (`what` names the resource: `a fleet`); `None` then, and when a named
/// subnet has a problem of its own (already reported).
fn named_subnets(
    ctx: &Ctx,
    out: &Out,
    r: &ResourceSpec,
    named: &[(String, &String)],
    vpc_path: String,
    what: &str,
) -> Option<NamedSubnets> {
    let names = ctx.names_of(r);
    let mut subnets = Vec::new();
    let mut bad = false;
    for (path, s) in named {
        match names.subnets.get(*s) {
            Some(&k) => match out.get(k) {
                Some(p) => subnets.push((k, p.clone())),
                None => bad = true,
            },
            None => {
                let msg = missing("vpc_subnet", s, r, names.subnets.keys());
                ctx.problem(path.clone(), msg);
                bad = true;
            }
        }
    }
    if bad {
        return None;
    }
    let vpcs: BTreeSet<VpcIx> = subnets.iter().map(|(_, p)| p.vpc).collect();
    if vpcs.len() > 1 {
        ctx.problem(vpc_path, format!("the subnets of {what} are in one VPC"));
        return None;
    }
    Some((subnets, vpcs.first().copied()))
}

/// The paths of a list attribute's items: `resources[3].attrs.subnets[0]`, ...
fn items<'a>(i: usize, field: &str, list: &'a [String]) -> Vec<(String, &'a String)> {
    list.iter()
        .enumerate()
        .map(|(j, s)| (format!("resources[{i}].attrs.{field}[{j}]"), s))
        .collect()
}

/// The VPC `name` names, reporting it when there is none.
fn named_vpc(ctx: &Ctx, i: usize, r: &ResourceSpec, name: &str) -> Option<VpcIx> {
    let names = ctx.names_of(r);
    let found = names.vpcs.get(name).copied();
    if found.is_none() {
        let msg = missing("vpc", name, r, names.vpcs.keys());
        ctx.problem(format!("resources[{i}].attrs.vpc"), msg);
    }
    found
}

/// The group named `name` in `vpc` (`default` is the VPC's default group).
fn group_ref(names: &Names, vpc: VpcRef, name: &str) -> Option<SgRef> {
    if name == "default" {
        return Some(SgRef::DefaultOf(vpc));
    }
    names
        .groups
        .get(&(vpc, name.to_owned()))
        .map(|&j| SgRef::File(j))
}

/// The groups of `list` in `vpc`, without repeats; reports the ones that do not exist.
fn resolve_groups(
    ctx: &Ctx,
    r: &ResourceSpec,
    path: &str,
    vpc: VpcRef,
    list: &[String],
) -> Option<Vec<SgRef>> {
    let names = ctx.names_of(r);
    let mut out = Vec::new();
    let mut ok = true;
    for (j, g) in list.iter().enumerate() {
        match group_ref(names, vpc, g) {
            Some(s) if out.contains(&s) => {}
            Some(s) => out.push(s),
            None => {
                let in_vpc = match vpc {
                    VpcRef::Default => "the default VPC".to_owned(),
                    VpcRef::File(v) => format!("VPC `{}`", ctx.resources[v.at()].key()),
                };
                let known: Vec<String> = names
                    .groups
                    .keys()
                    .filter(|(v, _)| *v == vpc)
                    .map(|(_, n)| n.clone())
                    .chain(["default".to_owned()])
                    .collect();
                ctx.problem(
                    format!("{path}[{j}]"),
                    format!(
                        "no security group `{g}` in {in_vpc} of {}/{} (known: {})",
                        r.account,
                        r.region,
                        known.join(", ")
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
