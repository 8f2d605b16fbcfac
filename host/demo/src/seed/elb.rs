//! Load balancers (step 4).

use super::super::estate_file::{LbPlan, ResourceKind, ResourceSpec};
use super::{p, Ids, Site, Task};

/// Creates load balancer `r` in its subnets, with its groups and tags.
pub(super) fn load_balancer(
    site: Site,
    ids: &Ids,
    r: &ResourceSpec,
    lb: &LbPlan,
) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
    let mut params = p(&[
        ("Name", r.key()),
        ("Type", &lb.lb_type),
        ("Scheme", &lb.scheme),
    ]);
    for (n, s) in lb.subnets.iter().enumerate() {
        params.push((format!("Subnets.member.{}", n + 1), ids.subnet(*s)));
    }
    for (n, g) in lb.security_groups.iter().enumerate() {
        params.push((format!("SecurityGroups.member.{}", n + 1), ids.group(*g)));
    }
    for (n, (k, v)) in r.tags.iter().enumerate() {
        params.push((format!("Tags.member.{}.Key", n + 1), k.clone()));
        params.push((format!("Tags.member.{}.Value", n + 1), v.clone()));
    }
    Box::pin(async move {
        site.query(
            ResourceKind::ElbLoadBalancer,
            &what,
            "elasticloadbalancing",
            "CreateLoadBalancer",
            &params,
        )
        .await?;
        site.created(ResourceKind::ElbLoadBalancer, 1);
        Ok(None)
    })
}
