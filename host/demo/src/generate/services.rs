//! Buckets, Lambda functions with their layers and aliases, and load balancers.

use std::collections::BTreeMap;

use super::super::estate_file::{
    Attrs, LambdaAliasAttrs, LambdaFunctionAttrs, LambdaLayerAttrs, LoadBalancerAttrs,
    ResourceKind, ResourceSpec, S3BucketAttrs,
};
use super::tables::{APPS, BUCKET_PURPOSES, FUNCTIONS, LAYERS, RUNTIMES};
use super::{region_short, Gen, Place, COMPANY};

pub(super) fn storage(g: &mut Gen, place: &mut Place, quota: usize) {
    let prod = place.env == "production";
    let short = region_short(&place.region);
    let env_short = match place.env {
        "production" => "prod",
        "staging" => "staging",
        _ => "dev",
    };
    let mut made = 0;
    let mut attempt = 0;
    while made < quota {
        attempt += 1;
        let purpose = *g.pick(BUCKET_PURPOSES);
        let app = *g.pick(APPS);
        let base = match purpose {
            "cloudtrail" | "access-logs" | "terraform-state" => {
                format!("{COMPANY}-{purpose}-{}-{short}", place.account.id)
            }
            _ if g.chance(0.3) => format!("{COMPANY}-{env_short}-{app}-{purpose}-{short}"),
            _ => format!("{COMPANY}-{env_short}-{app}-{purpose}"),
        };
        let mut name = base.clone();
        let mut n = 2;
        while g.buckets.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        if attempt > quota * 20 + 100 {
            // Out of ideas: a plain numbered name.
            name = format!("{COMPANY}-{env_short}-{}-{short}-{made}", place.account.id);
        } else if name.len() > 63 {
            continue;
        }
        g.buckets.insert(name.clone());
        let public = purpose == "public-assets" || purpose == "static" && g.chance(0.3);
        let logs =
            ["logs", "access-logs", "cloudtrail", "athena-results", "tmp"].contains(&purpose);
        let mut lifecycle = Vec::new();
        if logs || g.chance(0.15) {
            lifecycle.push(if logs {
                "expire-after-90-days".to_owned()
            } else {
                "transition-to-glacier".to_owned()
            });
            if g.chance(0.3) {
                lifecycle.push("abort-incomplete-uploads".into());
            }
        }
        let kms = g.chance(if prod { 0.3 } else { 0.1 });
        let tags = if g.chance(0.1) {
            BTreeMap::new()
        } else {
            g.tags(place.env, app)
        };
        let attrs = Attrs::S3Bucket(S3BucketAttrs {
            versioning: Some(
                if purpose == "terraform-state" || (prod && g.chance(0.5)) {
                    "Enabled"
                } else if g.chance(0.05) {
                    "Suspended"
                } else {
                    "Disabled"
                }
                .into(),
            ),
            encryption: Some(if kms { "aws:kms" } else { "AES256" }.into()),
            kms_key: kms.then(|| format!("alias/{app}-s3")),
            lifecycle_rules: lifecycle,
            block_public_access: Some(!public),
        });
        g.push(place, ResourceKind::S3Bucket, name, tags, None, attrs);
        made += 1;
    }
}

pub(super) fn serverless(
    g: &mut Gen,
    place: &mut Place,
    functions: usize,
    layers: usize,
    aliases: usize,
) {
    let mut layer_names = Vec::new();
    for k in 0..layers {
        let (base, runtime) = LAYERS[k % LAYERS.len()];
        let name = Gen::free_name(place, ResourceKind::LambdaLayer, base);
        g.push(
            place,
            ResourceKind::LambdaLayer,
            name.clone(),
            BTreeMap::new(),
            None,
            Attrs::LambdaLayer(LambdaLayerAttrs {
                versions: Some(*g.pick(&[1u32, 1, 2, 2, 3, 4])),
                compatible_runtimes: Some(vec![runtime.into()]),
                description: Some(format!("{base} for {runtime}")),
                license_info: g.chance(0.3).then(|| "MIT".to_owned()),
            }),
        );
        layer_names.push(name);
    }
    let mut made = Vec::new();
    for k in 0..functions {
        let (base, description) = FUNCTIONS[(k + g.usize(FUNCTIONS.len())) % FUNCTIONS.len()];
        let name = Gen::free_name(place, ResourceKind::LambdaFunction, base);
        let app = match base.split('-').next() {
            Some(a) if APPS.contains(&a) => a.to_owned(),
            _ => g.pick(APPS).to_string(),
        };
        let runtime = *g.pick(RUNTIMES);
        let in_vpc = g.chance(0.3);
        let (subnets, groups) = if in_vpc {
            let (_, _, private) = &place.vpcs[g.usize(place.vpcs.len())];
            (
                private.iter().take(2).cloned().collect(),
                vec!["app".to_owned()],
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let layers: Vec<String> = if !layer_names.is_empty() && g.chance(0.35) {
            vec![g.pick(&layer_names).clone()]
        } else {
            Vec::new()
        };
        let tags = g.tags(place.env, &app);
        g.push(
            place,
            ResourceKind::LambdaFunction,
            name.clone(),
            tags,
            None,
            Attrs::LambdaFunction(LambdaFunctionAttrs {
                runtime: Some(runtime.into()),
                memory_size: Some(*g.pick(&[128u32, 128, 256, 512, 1024, 1536, 3008])),
                timeout: Some(*g.pick(&[3u32, 10, 30, 60, 300, 900])),
                description: Some(description.to_owned()),
                role: g.chance(0.3).then(|| format!("{app}-lambda-role")),
                architecture: g.chance(0.25).then(|| "arm64".to_owned()),
                subnets,
                security_groups: groups,
                layers,
                ..Default::default()
            }),
        );
        made.push(name);
    }
    for k in 0..aliases.min(made.len() * 2) {
        let function = made[k % made.len()].clone();
        let alias = if k < made.len() { "live" } else { "canary" };
        g.push_alias(place, &function, alias);
    }
}

impl Gen {
    fn push_alias(&mut self, place: &mut Place, function: &str, alias: &str) {
        self.resources.push(ResourceSpec {
            kind: ResourceKind::LambdaAlias,
            account: place.account.id.clone(),
            region: place.region.clone(),
            id: Some(alias.to_owned()),
            name: None,
            tags: BTreeMap::new(),
            state: None,
            attrs: Attrs::LambdaAlias(LambdaAliasAttrs {
                function: Some(function.to_owned()),
                version: Some(if alias == "canary" { "$LATEST" } else { "1" }.into()),
                description: Some(format!("{alias} traffic")),
            }),
        });
    }
}

pub(super) fn balancers(g: &mut Gen, place: &mut Place, quota: usize) {
    for _ in 0..quota {
        let app = *g.pick(APPS);
        let network = g.chance(0.25);
        let base = if network {
            format!("{app}-nlb")
        } else {
            format!("{app}-alb")
        };
        let id = Gen::free_name(place, ResourceKind::ElbLoadBalancer, &base);
        if id.len() > 32 {
            continue;
        }
        let (_, public, private) = place.vpcs[g.usize(place.vpcs.len())].clone();
        let internal = network || g.chance(0.2);
        let subnets = if internal { private } else { public };
        let tags = g.tags(place.env, app);
        g.push(
            place,
            ResourceKind::ElbLoadBalancer,
            id,
            tags,
            None,
            Attrs::ElbLoadBalancer(LoadBalancerAttrs {
                lb_type: Some(if network { "network" } else { "application" }.into()),
                scheme: Some(
                    if internal {
                        "internal"
                    } else {
                        "internet-facing"
                    }
                    .into(),
                ),
                subnets,
                vpc: None,
                security_groups: if network {
                    Vec::new()
                } else {
                    vec!["alb".into()]
                },
            }),
        );
    }
}
