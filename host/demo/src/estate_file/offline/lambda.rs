//! Lambda functions, aliases and layer versions.

use serde_json::json;

use super::super::plan::{AliasPlan, FunctionPlan, LayerPlan};
use super::{rel, tags_of, time_of, uuid_of, Region, PACKAGE_BYTES};
use crate::resource::Resource;

/// A function.
pub(super) fn function(r: &Region, i: usize, f: &FunctionPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
    let arn = r.arn("lambda", &format!("function:{key}"));
    let role = format!("arn:aws:iam::{}:role/{}", r.account, f.role);
    let mut relations = vec![rel("role", role.clone())];
    let subnets: Vec<String> = f.subnets.iter().map(|s| r.ids[&s.at()].clone()).collect();
    let groups: Vec<String> = f.security_groups.iter().map(|g| r.group_id(*g)).collect();
    for s in &subnets {
        relations.push(rel("subnet", r.ec2_arn("subnet", s)));
    }
    for g in &groups {
        relations.push(rel("security_group", r.ec2_arn("security-group", g)));
    }
    let layers: Vec<String> = f
        .layers
        .iter()
        .map(|(l, v)| {
            r.arn(
                "lambda",
                &format!("layer:{}:{v}", r.estate.resources[*l].key()),
            )
        })
        .collect();
    for l in &layers {
        relations.push(rel("layer", l.clone()));
    }
    let (y, mo, d, h, mi, s, us) = time_of(&arn);
    let mut meta = json!({
        "architectures": [f.architecture],
        "code_size": PACKAGE_BYTES,
        "ephemeral_storage": 512,
        "handler": f.handler,
        "last_modified": format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}000Z"),
        "layers": layers,
        "memory_size": f.memory_size,
        "package_type": "Zip",
        "role": role,
        "runtime": f.runtime,
        "security_group_ids": groups,
        "subnet_ids": subnets,
        "timeout": f.timeout,
        "version": "$LATEST",
    });
    if let Some(desc) = &f.description {
        meta["description"] = desc.clone().into();
    }
    if !f.security_groups.is_empty() {
        // What the emulator reports for every VPC function.
        meta["vpc_id"] = "vpc-123abc".into();
    }
    out.push(r.resource(
        "lambda_function",
        key.to_owned(),
        arn,
        key.to_owned(),
        Some("Active"),
        tags_of(None, &spec.tags),
        relations,
        meta,
    ));
}

/// An alias.
pub(super) fn alias(r: &Region, i: usize, a: &AliasPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
    let function = r.estate.resources[a.function].key();
    let function_arn = r.arn("lambda", &format!("function:{function}"));
    let id = format!("{function}:{key}");
    let mut meta = json!({
        "alias_name": key,
        "function_name": function,
        "function_version": a.version,
        "revision_id": uuid_of(&format!("{function_arn}:{key}")),
        "routing": {},
    });
    if let Some(desc) = &a.description {
        meta["description"] = desc.clone().into();
    }
    out.push(r.resource(
        "lambda_alias",
        id.clone(),
        format!("{function_arn}:{key}"),
        id,
        None,
        Vec::new(),
        vec![rel("function", function_arn)],
        meta,
    ));
}

/// Each version of a layer, newest first.
pub(super) fn layer(r: &Region, i: usize, l: &LayerPlan, out: &mut Vec<Resource>) {
    let spec = &r.estate.resources[i];
    let key = spec.key();
    for v in (1..=l.versions).rev() {
        let id = format!("{key}:{v}");
        let arn = r.arn("lambda", &format!("layer:{id}"));
        let (y, mo, d, h, mi, s, us) = time_of(&arn);
        let mut meta = json!({
            "code_size": PACKAGE_BYTES,
            "compatible_architectures": [],
            "compatible_runtimes": l.runtimes,
            "created_date": format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}+0000",
                us / 1000
            ),
            "latest": v == l.versions,
            "layer_name": key,
            "version": v,
        });
        if let Some(desc) = &l.description {
            meta["description"] = desc.clone().into();
        }
        if let Some(lic) = &l.license_info {
            meta["license_info"] = lic.clone().into();
        }
        out.push(r.resource(
            "lambda_layer",
            id.clone(),
            arn,
            id,
            None,
            Vec::new(),
            Vec::new(),
            meta,
        ));
    }
}
