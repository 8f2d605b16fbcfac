//! Lambda layers, functions and aliases.

use std::collections::BTreeSet;

use super::super::attrs::{LambdaFunctionAttrs, LambdaLayerAttrs};
use super::super::check::valid_role_name;
use super::super::defaults::{default_handler, DEFAULT_LAMBDA_ROLE};
use super::super::plan::{AliasPlan, FunctionPlan, LayerIx, LayerPlan, VpcRef};
use super::super::validate::{missing, Ctx};
use super::super::{Attrs, ResourceSpec};
use super::{items, named_subnets, resolve_groups, Out};

/// A `lambda_layer` and how many versions it has.
pub(super) fn layer(ctx: &Ctx, out: &mut Out, i: usize, a: &LambdaLayerAttrs) {
    let versions = a.versions.unwrap_or(1);
    if !(1..=100).contains(&versions) {
        ctx.problem(
            format!("resources[{i}].attrs.versions"),
            "a layer has from 1 to 100 versions",
        );
        return;
    }
    out.set(
        i,
        LayerPlan {
            versions,
            runtimes: a
                .compatible_runtimes
                .clone()
                .unwrap_or_else(|| vec!["python3.12".into()]),
            description: a.description.clone(),
            license_info: a.license_info.clone(),
        },
    );
}

/// Every `lambda_function`; those an alias points at a published version of are published.
pub(super) fn functions(ctx: &Ctx, out: &mut Out) {
    let mut published = BTreeSet::new();
    for r in ctx.resources {
        if let Attrs::LambdaAlias(a) = &r.attrs {
            if let (Some(f), false) = (&a.function, a.version.as_deref() == Some("$LATEST")) {
                published.insert((r.account.clone(), r.region.clone(), f.clone()));
            }
        }
    }
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::LambdaFunction(a) = &r.attrs else {
            continue;
        };
        let publish =
            published.contains(&(r.account.clone(), r.region.clone(), r.key().to_owned()));
        if let Some(plan) = function(ctx, out, i, r, a, publish) {
            out.set(i, plan);
        }
    }
}

fn function(
    ctx: &Ctx,
    out: &Out,
    i: usize,
    r: &ResourceSpec,
    a: &LambdaFunctionAttrs,
    publish: bool,
) -> Option<FunctionPlan> {
    let path = |f: &str| format!("resources[{i}].attrs.{f}");
    let role = a.role.clone().unwrap_or_else(|| DEFAULT_LAMBDA_ROLE.into());
    if !valid_role_name(&role) {
        ctx.problem(path("role"), format!("`{role}` is not an IAM role name"));
        return None;
    }
    // Subnets and layers both, so that the problems of both are reported.
    let named = items(i, "subnets", &a.subnets);
    let subnets = named_subnets(ctx, out, r, &named, path("subnets"), "a function");
    let (layers, layers_found) = layers(ctx, out, i, r, &a.layers);
    if layers.len() > 5 {
        ctx.problem(path("layers"), "a function uses at most 5 layers");
        return None;
    }
    if !layers_found {
        return None;
    }
    let (subnets, vpc) = subnets?;
    let vpc = vpc.map(VpcRef::File);
    if vpc.is_none() && !a.security_groups.is_empty() {
        ctx.problem(
            path("security_groups"),
            "security groups go with `subnets`: a function without subnets is not in a VPC",
        );
        return None;
    }
    if vpc.is_some() && a.security_groups.is_empty() {
        ctx.problem(
            path("security_groups"),
            "a function in a VPC needs at least one security group",
        );
        return None;
    }
    let security_groups = resolve_groups(
        ctx,
        r,
        &path("security_groups"),
        vpc.unwrap_or(VpcRef::Default),
        &a.security_groups,
    )?;
    let runtime = a.runtime.clone().unwrap_or_else(|| "python3.12".into());
    let architecture = a.architecture.clone().unwrap_or_else(|| "x86_64".into());
    if !["x86_64", "arm64"].contains(&architecture.as_str()) {
        ctx.problem(
            path("architecture"),
            format!("`{architecture}` is not x86_64 or arm64"),
        );
        return None;
    }
    Some(FunctionPlan {
        handler: a
            .handler
            .clone()
            .unwrap_or_else(|| default_handler(&runtime).into()),
        runtime,
        memory_size: a.memory_size.unwrap_or(128).clamp(128, 10240),
        timeout: a.timeout.unwrap_or(3).clamp(1, 900),
        description: a.description.clone().filter(|d| !d.is_empty()),
        role,
        architecture,
        subnets: subnets.into_iter().map(|(k, _)| k).collect(),
        security_groups,
        vpc,
        layers,
        publish,
    })
}

/// The layers a function names (`name` for the latest version, `name:3` for one), with
/// their versions, and whether all were found (missing ones and versions are reported).
fn layers(
    ctx: &Ctx,
    out: &Out,
    i: usize,
    r: &ResourceSpec,
    named: &[String],
) -> (Vec<(LayerIx, u32)>, bool) {
    let names = ctx.names_of(r);
    let mut layers = Vec::new();
    let mut bad = false;
    for (j, l) in named.iter().enumerate() {
        let path = format!("resources[{i}].attrs.layers[{j}]");
        let (name, version) = match l.rsplit_once(':') {
            Some((n, v)) => match v.parse::<u32>() {
                Ok(v) => (n, Some(v)),
                Err(_) => (l.as_str(), None),
            },
            None => (l.as_str(), None),
        };
        let Some(&k) = names.layers.get(name) else {
            let msg = missing("lambda_layer", name, r, names.layers.keys());
            ctx.problem(path, msg);
            bad = true;
            continue;
        };
        // A layer with a problem of its own has no plan (and was reported).
        let Some(versions) = out.get(k).map(|p| p.versions) else {
            bad = true;
            continue;
        };
        let v = version.unwrap_or(versions);
        if v == 0 || v > versions {
            ctx.problem(
                path,
                format!("layer `{name}` has versions 1 to {versions}, not {v}"),
            );
            bad = true;
            continue;
        }
        layers.push((k, v));
    }
    (layers, !bad)
}

/// Every `lambda_alias`, pointing at version 1 (published) or `$LATEST`.
pub(super) fn aliases(ctx: &Ctx, out: &mut Out) {
    for (i, r) in ctx.resources.iter().enumerate() {
        let Attrs::LambdaAlias(a) = &r.attrs else {
            continue;
        };
        let names = ctx.names_of(r);
        let Some(f) = &a.function else { continue };
        let Some(&function) = names.functions.get(f) else {
            let msg = missing("lambda_function", f, r, names.functions.keys());
            ctx.problem(format!("resources[{i}].attrs.function"), msg);
            continue;
        };
        let version = a.version.clone().unwrap_or_else(|| "1".into());
        if version != "1" && version != "$LATEST" {
            ctx.problem(
                format!("resources[{i}].attrs.version"),
                format!(
                    "`{version}` is not a version the seeder publishes; use `1` (the published \
                     version) or `$LATEST`"
                ),
            );
            continue;
        }
        out.set(
            i,
            AliasPlan {
                function,
                version,
                description: a.description.clone().filter(|d| !d.is_empty()),
            },
        );
    }
}
