//! The first two checks of an estate: its accounts, then what each resource says about
//! itself (account, region, key, tags, state), indexing every name for the resolver.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::check::{key_problem, valid_account_id, valid_action_pattern, valid_role_name};
use super::plan::{
    ClusterIx, FunctionIx, InstanceIx, Ix, Kind, LayerIx, RdsIx, SgIx, SubnetIx, VolumeIx, VpcIx,
    VpcRef,
};
use super::{zones, Account, Attrs, Problem, ResourceKind, ResourceSpec};

/// The names of one (account, region), by type, as the resolver looks them up.
#[derive(Default)]
pub(super) struct Names {
    pub vpcs: HashMap<String, VpcIx>,
    /// The VPCs in file order: the first is the default for resources that name none.
    pub vpc_order: Vec<VpcIx>,
    pub subnets: HashMap<String, SubnetIx>,
    /// The subnets in file order: the first is the default of instances that name none.
    pub subnets_order: Vec<SubnetIx>,
    /// (vpc, group name) → group.
    pub groups: HashMap<(VpcRef, String), SgIx>,
    pub instances: HashMap<String, InstanceIx>,
    pub volumes: HashMap<String, VolumeIx>,
    pub rds: HashMap<String, RdsIx>,
    pub clusters: HashMap<String, ClusterIx>,
    pub functions: HashMap<String, FunctionIx>,
    pub layers: HashMap<String, LayerIx>,
    /// Every key by type, to find duplicates (aliases are keyed by function and name).
    seen: HashMap<(ResourceKind, String), usize>,
}

/// What the checks share: the file, the names found so far, and the problems.
pub(super) struct Ctx<'a> {
    pub accounts: &'a [Account],
    pub resources: &'a [ResourceSpec],
    pub names: HashMap<(String, String), Names>,
    /// The subnets of each file VPC, in file order (known after the subnets resolve).
    pub vpc_subnets: HashMap<VpcIx, Vec<SubnetIx>>,
    /// A `RefCell` so that a check can report while it reads `names`.
    pub problems: RefCell<Vec<Problem>>,
}

impl Ctx<'_> {
    pub fn problem(&self, path: String, message: impl Into<String>) {
        self.problems.borrow_mut().push(Problem {
            path,
            message: message.into(),
        });
    }

    /// The problems so far as an error, if there are any.
    pub fn stop_at_problems(&mut self) -> Result<(), Vec<Problem>> {
        match self.problems.get_mut().is_empty() {
            true => Ok(()),
            false => Err(std::mem::take(self.problems.get_mut())),
        }
    }

    /// The names of `r`'s account and region (checked to exist before resolution).
    pub fn names_of(&self, r: &ResourceSpec) -> &Names {
        &self.names[&(r.account.clone(), r.region.clone())]
    }
}

pub(super) fn check_accounts(
    ctx: &mut Ctx,
    by_region: &mut BTreeMap<(String, String), Vec<usize>>,
) {
    if ctx.accounts.is_empty() {
        ctx.problem("accounts".into(), "the estate needs at least one account");
    }
    let mut seen = BTreeSet::new();
    for (i, a) in ctx.accounts.iter().enumerate() {
        let path = |f: &str| format!("accounts[{i}].{f}");
        if !valid_account_id(&a.id) {
            ctx.problem(
                path("id"),
                format!("`{}` is not a 12-digit account id", a.id),
            );
        } else if !seen.insert(a.id.clone()) {
            ctx.problem(path("id"), format!("account `{}` appears twice", a.id));
        }
        if a.regions.is_empty() {
            ctx.problem(path("regions"), "list at least one region");
        }
        let mut regions = BTreeSet::new();
        for (j, r) in a.regions.iter().enumerate() {
            if zones(r).is_none() {
                ctx.problem(
                    format!("accounts[{i}].regions[{j}]"),
                    format!(
                        "`{r}` is not a region the estate file supports (commercial AWS regions \
                         such as us-east-1, us-west-2, eu-west-1)"
                    ),
                );
            } else if !regions.insert(r) {
                ctx.problem(
                    format!("accounts[{i}].regions[{j}]"),
                    format!("region `{r}` appears twice"),
                );
            } else {
                by_region.insert((a.id.clone(), r.clone()), Vec::new());
                ctx.names
                    .insert((a.id.clone(), r.clone()), Names::default());
            }
        }
        let p = &a.principal;
        if !valid_role_name(&p.role) {
            ctx.problem(
                path("principal.role"),
                format!("`{}` is not an IAM role name", p.role),
            );
        }
        for (list, what) in [(&p.allow, "allow"), (&p.deny, "deny")] {
            for (j, action) in list.iter().enumerate() {
                if !valid_action_pattern(action) {
                    ctx.problem(
                        format!("accounts[{i}].principal.{what}[{j}]"),
                        format!(
                            "`{action}` is not an IAM action pattern such as `ec2:Describe*` or \
                             `rds:StopDBInstance`"
                        ),
                    );
                }
            }
        }
    }
}

/// Checks what each resource says about itself and indexes names; returns nothing, the
/// names go into `ctx.names`.
pub(super) fn check_resources(
    ctx: &mut Ctx,
    by_region: &mut BTreeMap<(String, String), Vec<usize>>,
) {
    let mut buckets: HashMap<String, usize> = HashMap::new();
    let resources = ctx.resources;
    // Security groups are indexed by VPC, which needs the VPCs first.
    let mut deferred_groups = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let Some(key) = resource_key(ctx, i, r) else {
            continue;
        };
        check_tags(ctx, i, r);
        check_state(ctx, i, r);
        if r.kind == ResourceKind::S3Bucket {
            if let Some(first) = buckets.insert(key.clone(), i) {
                ctx.problem(
                    format!("resources[{i}].id"),
                    format!(
                        "bucket `{key}` is also resources[{first}]; bucket names are unique \
                         across all accounts and regions"
                    ),
                );
                continue;
            }
        }
        by_region
            .get_mut(&(r.account.clone(), r.region.clone()))
            .expect("every account region has an entry")
            .push(i);
        if r.kind == ResourceKind::VpcSecurityGroup {
            deferred_groups.push(i);
            continue;
        }
        index_name(ctx, i, r, key);
    }
    for i in deferred_groups {
        index_group(ctx, i, &resources[i]);
    }
}

/// The resource's key (a name where AWS assigns the id, an id where the user chooses it),
/// after checking its account, region and key.
fn resource_key(ctx: &Ctx, i: usize, r: &ResourceSpec) -> Option<String> {
    let path = |f: &str| format!("resources[{i}].{f}");
    let Some(account) = ctx.accounts.iter().find(|a| a.id == r.account) else {
        let known: Vec<&str> = ctx.accounts.iter().map(|a| a.id.as_str()).collect();
        ctx.problem(
            path("account"),
            format!(
                "no account `{}` in `accounts` (known: {})",
                r.account,
                known.join(", ")
            ),
        );
        return None;
    };
    if !account.regions.contains(&r.region) {
        ctx.problem(
            path("region"),
            format!(
                "region `{}` is not one of account {} ({})'s regions: {}",
                r.region,
                account.id,
                account.name,
                account.regions.join(", ")
            ),
        );
        return None;
    }
    let key = if r.kind.keyed_by_name() {
        if r.id.is_some() {
            ctx.problem(
                path("id"),
                format!(
                    "AWS assigns the identifiers of {} resources; name it with `name` (its \
                     Name tag) instead",
                    r.kind
                ),
            );
        }
        let Some(n) = &r.name else {
            ctx.problem(
                path("name"),
                format!("a {} needs a `name` (its Name tag)", r.kind),
            );
            return None;
        };
        n.clone()
    } else {
        if r.name.is_some() {
            ctx.problem(
                path("name"),
                format!(
                    "{} resources are named by their identifier: use `id` (and a `Name` tag \
                     in `tags` if you want one)",
                    r.kind
                ),
            );
        }
        let Some(n) = &r.id else {
            ctx.problem(path("id"), format!("a {} needs an `id`", r.kind));
            return None;
        };
        n.clone()
    };
    if let Some(why) = key_problem(r.kind, &key) {
        let field = if r.kind.keyed_by_name() { "name" } else { "id" };
        ctx.problem(path(field), why);
        return None;
    }
    Some(key)
}

fn check_tags(ctx: &Ctx, i: usize, r: &ResourceSpec) {
    if r.tags.len() > 49 {
        ctx.problem(
            format!("resources[{i}].tags"),
            "at most 49 tags besides Name",
        );
    }
    for (k, v) in &r.tags {
        if k.trim().is_empty() || k.trim() != k || k.len() > 128 || v.len() > 256 {
            ctx.problem(
                format!("resources[{i}].tags.{k}"),
                "tag keys are 1-128 characters without outer spaces, values at most 256",
            );
        } else if k.starts_with("aws:") {
            ctx.problem(
                format!("resources[{i}].tags.{k}"),
                "the `aws:` prefix is reserved for AWS",
            );
        } else if k == "Name" && r.kind.keyed_by_name() {
            ctx.problem(
                format!("resources[{i}].tags.{k}"),
                format!("the Name of a {} goes in `name`, not in `tags`", r.kind),
            );
        }
    }
}

fn check_state(ctx: &Ctx, i: usize, r: &ResourceSpec) {
    let states: &[&str] = match r.kind {
        ResourceKind::Ec2Instance => &["running", "stopped"],
        ResourceKind::RdsInstance => &["available", "stopped"],
        // Stopping a cluster leaves its members `available` in the emulator, which AWS
        // never shows; so clusters are seeded running.
        ResourceKind::RdsCluster => &["available"],
        _ => &[],
    };
    let Some(s) = &r.state else { return };
    if states.is_empty() {
        ctx.problem(
            format!("resources[{i}].state"),
            format!(
                "the state of a {} follows from the rest of the file; leave `state` out",
                r.kind
            ),
        );
    } else if !states.contains(&s.as_str()) {
        ctx.problem(
            format!("resources[{i}].state"),
            format!(
                "`{s}` is not a state a {} can be seeded in; use one of: {}",
                r.kind,
                states.join(", ")
            ),
        );
    }
}

/// Records `r`'s key (unique per type, account and region) in the typed map its type is
/// looked up in.
fn index_name(ctx: &mut Ctx, i: usize, r: &ResourceSpec, key: String) {
    let names = ctx
        .names
        .get_mut(&(r.account.clone(), r.region.clone()))
        .expect("every account region has names");
    if r.kind == ResourceKind::S3Bucket {
        return; // unique across the estate, checked above
    }
    if let Attrs::LambdaAlias(a) = &r.attrs {
        let Some(function) = a.function.clone() else {
            ctx.problem(
                format!("resources[{i}].attrs.function"),
                "a lambda_alias needs `function`: the lambda_function it points at",
            );
            return;
        };
        let seen = (r.kind, format!("{function}:{key}"));
        if let Some(first) = names.seen.insert(seen, i) {
            ctx.problem(
                format!("resources[{i}].id"),
                format!("alias `{key}` of function `{function}` is also resources[{first}]"),
            );
        }
        return;
    }
    if let Some(first) = names.seen.insert((r.kind, key.clone()), i) {
        let field = if r.kind.keyed_by_name() { "name" } else { "id" };
        ctx.problem(
            format!("resources[{i}].{field}"),
            format!(
                "{} `{key}` is also resources[{first}] in {}/{}; names must be unique per \
                 type, account and region",
                r.kind, r.account, r.region
            ),
        );
        return;
    }
    // Each map takes only its own type (`Ix::of` checks), so one call per map suffices.
    put(&mut names.vpcs, i, r, &key);
    put(&mut names.subnets, i, r, &key);
    put(&mut names.instances, i, r, &key);
    put(&mut names.volumes, i, r, &key);
    put(&mut names.rds, i, r, &key);
    put(&mut names.clusters, i, r, &key);
    put(&mut names.functions, i, r, &key);
    put(&mut names.layers, i, r, &key);
    if let Some(v) = Ix::of(i, r) {
        names.vpc_order.push(v);
    }
    if let Some(s) = Ix::of(i, r) {
        names.subnets_order.push(s);
    }
}

fn put<K: Kind>(map: &mut HashMap<String, Ix<K>>, i: usize, r: &ResourceSpec, key: &str) {
    if let Some(ix) = Ix::of(i, r) {
        map.insert(key.to_owned(), ix);
    }
}

/// Records a security group under its VPC (group names are unique per VPC).
fn index_group(ctx: &mut Ctx, i: usize, r: &ResourceSpec) {
    let Attrs::VpcSecurityGroup(a) = &r.attrs else {
        return;
    };
    let names = ctx.names_of(r);
    let vpc = match &a.vpc {
        Some(v) => match names.vpcs.get(v) {
            Some(&j) => VpcRef::File(j),
            None => {
                let msg = missing("vpc", v, r, names.vpcs.keys());
                ctx.problem(format!("resources[{i}].attrs.vpc"), msg);
                return;
            }
        },
        None => names.default_vpc(),
    };
    let key = r.key().to_owned();
    let Some(group) = Ix::of(i, r) else { return };
    let names = ctx
        .names
        .get_mut(&(r.account.clone(), r.region.clone()))
        .expect("every account region has names");
    if let Some(first) = names.groups.insert((vpc, key.clone()), group) {
        ctx.problem(
            format!("resources[{i}].name"),
            format!(
                "security group `{key}` is also resources[{}] in the same VPC",
                first.at()
            ),
        );
    }
}

impl Names {
    /// The VPC of resources that name none: the first of the file, else the default VPC.
    pub fn default_vpc(&self) -> VpcRef {
        self.vpc_order
            .first()
            .map_or(VpcRef::Default, |&v| VpcRef::File(v))
    }
}

pub(super) fn missing<'a>(
    kind: &str,
    name: &str,
    r: &ResourceSpec,
    known: impl Iterator<Item = &'a String>,
) -> String {
    let mut known: Vec<&String> = known.collect();
    known.sort();
    let known = if known.is_empty() {
        "there are none".to_owned()
    } else {
        let shown: Vec<&str> = known.iter().take(10).map(|s| s.as_str()).collect();
        format!(
            "known: {}{}",
            shown.join(", "),
            if known.len() > 10 { ", ..." } else { "" }
        )
    };
    format!("no {kind} `{name}` in {}/{} ({known})", r.account, r.region)
}
