//! Load balancers.

use super::super::attrs::LoadBalancerAttrs;
use super::super::plan::{LbPlan, SubnetRef, VpcRef};
use super::super::validate::Ctx;
use super::super::{zones, ResourceSpec};
use super::{items, named_subnets, resolve_groups, Out};

/// An `elb_load_balancer`: in the VPC of the subnets it names, else of `vpc` (the file's
/// first by default) with all that VPC's subnets.
pub(super) fn load_balancer(
    ctx: &Ctx,
    out: &mut Out,
    i: usize,
    r: &ResourceSpec,
    a: &LoadBalancerAttrs,
) {
    let path = |f: &str| format!("resources[{i}].attrs.{f}");
    let lb_type = a.lb_type.clone().unwrap_or_else(|| "application".into());
    if !["application", "network", "gateway"].contains(&lb_type.as_str()) {
        ctx.problem(
            path("type"),
            format!("`{lb_type}` is not application, network or gateway"),
        );
        return;
    }
    let scheme = a.scheme.clone().unwrap_or_else(|| "internet-facing".into());
    if !["internet-facing", "internal"].contains(&scheme.as_str()) {
        ctx.problem(
            path("scheme"),
            format!("`{scheme}` is not internet-facing or internal"),
        );
        return;
    }
    let named = items(i, "subnets", &a.subnets);
    let Some((named, vpc)) = named_subnets(ctx, out, r, &named, path("subnets"), "a load balancer")
    else {
        return;
    };
    let vpc = match (vpc, &a.vpc) {
        (Some(v), _) => VpcRef::File(v),
        (None, Some(v)) => match super::named_vpc(ctx, i, r, v) {
            Some(v) => VpcRef::File(v),
            None => return,
        },
        (None, None) => ctx.names_of(r).default_vpc(),
    };
    let mut subnets: Vec<SubnetRef> = named.into_iter().map(|(k, _)| SubnetRef::File(k)).collect();
    if subnets.is_empty() {
        subnets = match vpc {
            VpcRef::File(v) => ctx.vpc_subnets.get(&v).map_or_else(Vec::new, |s| {
                s.iter().map(|&k| SubnetRef::File(k)).collect()
            }),
            VpcRef::Default => (0..zones(&r.region).map_or(1, |z| z.len()))
                .map(SubnetRef::Default)
                .collect(),
        };
        if subnets.is_empty() {
            ctx.problem(
                path("subnets"),
                "the load balancer's VPC has no subnets in the file; add some or name them in \
                 `subnets`",
            );
            return;
        }
    }
    let Some(security_groups) =
        resolve_groups(ctx, r, &path("security_groups"), vpc, &a.security_groups)
    else {
        return;
    };
    out.set(
        i,
        LbPlan {
            lb_type,
            scheme,
            vpc,
            subnets,
            security_groups,
        },
    );
}
