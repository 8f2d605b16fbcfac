//! Lambda layers (step 4), functions (step 5) and aliases (step 6), and the deployment
//! package they upload.

use super::super::estate_file::{AliasPlan, FunctionPlan, LayerPlan, ResourceKind, ResourceSpec};
use super::{Ids, Site, Task};

/// Publishes every version of layer `r`, one after the other.
pub(super) fn layer(site: Site, r: &ResourceSpec, l: &LayerPlan) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
    let name = r.key().to_owned();
    let l = l.clone();
    Box::pin(async move {
        for v in 1..=l.versions {
            let mut body = serde_json::json!({
                "Content": { "ZipFile": zip_package() },
                "CompatibleRuntimes": l.runtimes,
            });
            if let Some(d) = &l.description {
                body["Description"] = d.clone().into();
            }
            if let Some(d) = &l.license_info {
                body["LicenseInfo"] = d.clone().into();
            }
            site.rest(
                ResourceKind::LambdaLayer,
                &format!("{what} version {v}"),
                "lambda",
                "POST",
                format!("/2018-10-31/layers/{name}/versions"),
                None,
                body.to_string().into_bytes(),
            )
            .await?;
            site.created(ResourceKind::LambdaLayer, 1);
        }
        Ok(None)
    })
}

/// Creates function `r` (in its subnets, with its layers), published when an alias points
/// at version 1.
pub(super) fn function(site: Site, ids: &Ids, r: &ResourceSpec, f: &FunctionPlan) -> Task<()> {
    let what = format!("{} {}", r.kind, r.key());
    let res = site.shared.estate.resources();
    let mut body = serde_json::json!({
        "FunctionName": r.key(),
        "Runtime": f.runtime,
        "Role": format!("arn:aws:iam::{}:role/{}", r.account, f.role),
        "Handler": f.handler,
        "Code": { "ZipFile": zip_package() },
        "MemorySize": f.memory_size,
        "Timeout": f.timeout,
        "Architectures": [f.architecture],
        "Publish": f.publish,
        "Tags": r.tags,
    });
    if let Some(d) = &f.description {
        body["Description"] = d.clone().into();
    }
    if !f.subnets.is_empty() {
        let subnets: Vec<String> = f.subnets.iter().map(|s| ids.id(*s).clone()).collect();
        let groups: Vec<String> = f.security_groups.iter().map(|g| ids.group(*g)).collect();
        body["VpcConfig"] = serde_json::json!({ "SubnetIds": subnets, "SecurityGroupIds": groups });
    }
    if !f.layers.is_empty() {
        let layers: Vec<String> = f
            .layers
            .iter()
            .map(|(l, v)| {
                format!(
                    "arn:aws:lambda:{}:{}:layer:{}:{v}",
                    r.region,
                    r.account,
                    res[*l].key()
                )
            })
            .collect();
        body["Layers"] = layers.into();
    }
    Box::pin(async move {
        site.rest(
            ResourceKind::LambdaFunction,
            &what,
            "lambda",
            "POST",
            "/2015-03-31/functions".into(),
            None,
            body.to_string().into_bytes(),
        )
        .await?;
        site.created(ResourceKind::LambdaFunction, 1);
        Ok(())
    })
}

/// Creates alias `r` of its function.
pub(super) fn alias(site: Site, r: &ResourceSpec, a: &AliasPlan) -> Task<Option<(usize, String)>> {
    let what = format!("{} {}", r.kind, r.key());
    let function = site.shared.estate.resources()[a.function].key().to_owned();
    let mut body = serde_json::json!({
        "Name": r.key(),
        "FunctionVersion": a.version,
    });
    if let Some(d) = &a.description {
        body["Description"] = d.clone().into();
    }
    Box::pin(async move {
        site.rest(
            ResourceKind::LambdaAlias,
            &what,
            "lambda",
            "POST",
            format!("/2015-03-31/functions/{function}/aliases"),
            None,
            body.to_string().into_bytes(),
        )
        .await?;
        site.created(ResourceKind::LambdaAlias, 1);
        Ok(None)
    })
}

/// The demo's deployment package (see [`deployment_package`]), built once.
fn zip_package() -> String {
    use std::sync::OnceLock;
    static ZIP: OnceLock<String> = OnceLock::new();
    ZIP.get_or_init(|| {
        deployment_package(
            "lambda_function.py",
            "def lambda_handler(event, context):\n    return {\"ok\": True}\n",
        )
    })
    .clone()
}

/// A deployment package: a zip holding one stored (uncompressed) file `name` with `source`,
/// base64-encoded as CreateFunction and PublishLayerVersion take it.
pub fn deployment_package(name: &str, source: &str) -> String {
    use base64::Engine as _;
    let (name, data) = (name.as_bytes(), source.as_bytes());
    let crc = crc32fast::hash(data);
    let (n, d) = (name.len() as u16, data.len() as u32);
    let mut zip = Vec::new();
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time/date
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&n.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name);
    zip.extend_from_slice(data);
    let central = zip.len() as u32;
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&d.to_le_bytes());
    zip.extend_from_slice(&n.to_le_bytes());
    zip.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // offset of the local header
    zip.extend_from_slice(name);
    let size = zip.len() as u32 - central;
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(&zip)
}
