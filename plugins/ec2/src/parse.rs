//! EC2 responses to resources. Pure functions over response bodies, so they run in tests
//! without the host.

use cloudops_scanner_sdk::xml::{self, ItemSet, TagSet};
use cloudops_scanner_sdk::{arn, name_from_tags, Error, Relation, Resource, ScanContext};
use serde::Deserialize;
use serde_json::{Map, Value};

/// AWS puts this placeholder in `volumeId` of snapshots made by CopySnapshot; it names no
/// volume, so it must not become a relation.
const PLACEHOLDER_VOLUME: &str = "vol-ffffffff";

/// One page of a listing: what parsed, what did not, and where to go next.
#[derive(Debug, Default)]
pub struct Page {
    pub resources: Vec<Resource>,
    pub warnings: Vec<String>,
    pub next_token: Option<String>,
}

/// Where the resources live: everything an ARN needs.
pub struct Scope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> Scope<'a> {
    pub fn of(ctx: &'a ScanContext) -> Self {
        Scope {
            partition: &ctx.partition,
            region: &ctx.region,
            account: &ctx.account_id,
        }
    }

    pub fn arn(&self, kind: &str, id: &str) -> String {
        arn(
            self.partition,
            "ec2",
            self.region,
            self.account,
            &format!("{kind}/{id}"),
        )
    }

    /// Snapshot ARNs carry the region but no account: `arn:aws:ec2:us-east-1::snapshot/snap-…`.
    pub fn snapshot_arn(&self, id: &str) -> String {
        arn(
            self.partition,
            "ec2",
            self.region,
            "",
            &format!("snapshot/{id}"),
        )
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Instance {
    instance_id: Option<String>,
    image_id: Option<String>,
    instance_state: Option<InstanceState>,
    instance_type: Option<String>,
    private_ip_address: Option<String>,
    /// The public IPv4 address; EC2's XML calls it `ipAddress`.
    ip_address: Option<String>,
    launch_time: Option<String>,
    placement: Option<Placement>,
    architecture: Option<String>,
    platform: Option<String>,
    key_name: Option<String>,
    ebs_optimized: Option<String>,
    root_device_type: Option<String>,
    subnet_id: Option<String>,
    vpc_id: Option<String>,
    #[serde(default)]
    group_set: ItemSet<Group>,
    #[serde(default)]
    block_device_mapping: ItemSet<BlockDevice>,
    #[serde(default)]
    tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
struct InstanceState {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Placement {
    availability_zone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    group_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct BlockDevice {
    ebs: Option<EbsRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EbsRef {
    volume_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    volume_id: Option<String>,
    size: Option<String>,
    snapshot_id: Option<String>,
    availability_zone: Option<String>,
    status: Option<String>,
    create_time: Option<String>,
    #[serde(default)]
    attachment_set: ItemSet<Attachment>,
    volume_type: Option<String>,
    iops: Option<String>,
    encrypted: Option<String>,
    kms_key_id: Option<String>,
    multi_attach_enabled: Option<String>,
    #[serde(default)]
    tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attachment {
    instance_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    snapshot_id: Option<String>,
    volume_id: Option<String>,
    owner_id: Option<String>,
    status: Option<String>,
    start_time: Option<String>,
    progress: Option<String>,
    volume_size: Option<String>,
    description: Option<String>,
    encrypted: Option<String>,
    #[serde(default)]
    tag_set: TagSet,
}

/// A page of DescribeInstances: instances sit two levels down, inside reservations.
pub fn instances_page(body: &[u8], scope: &Scope) -> Result<Page, Error> {
    const ROOT: &str = "DescribeInstancesResponse";
    parse_page(
        body,
        ROOT,
        &[ROOT, "reservationSet", "item", "instancesSet", "item"],
        |item: Instance, w| instance(item, scope, w),
    )
}

/// A page of DescribeVolumes.
pub fn volumes_page(body: &[u8], scope: &Scope) -> Result<Page, Error> {
    const ROOT: &str = "DescribeVolumesResponse";
    parse_page(
        body,
        ROOT,
        &[ROOT, "volumeSet", "item"],
        |item: Volume, w| volume(item, scope, w),
    )
}

/// A page of DescribeSnapshots.
pub fn snapshots_page(body: &[u8], scope: &Scope) -> Result<Page, Error> {
    const ROOT: &str = "DescribeSnapshotsResponse";
    parse_page(
        body,
        ROOT,
        &[ROOT, "snapshotSet", "item"],
        |item: Snapshot, w| snapshot(item, scope, w),
    )
}

/// Parses each item on its own, so one odd item costs a warning, not the listing. The
/// `convert` returns `Ok(None)` for an item that is fine but not ours to report. The
/// root element is checked: a different document would otherwise read as an empty
/// account, and the host would forget everything it knew.
fn parse_page<T: serde::de::DeserializeOwned>(
    body: &[u8],
    root: &str,
    item_path: &[&str],
    mut convert: impl FnMut(T, &mut Vec<String>) -> Result<Option<Resource>, String>,
) -> Result<Page, Error> {
    let doc = std::str::from_utf8(body).map_err(|e| Error::parse(root, e))?;
    match xml::first_element(doc) {
        Some(name) if name == root => {}
        Some(name) => {
            return Err(Error::parse(
                root,
                format!("the response is a <{name}> document"),
            ))
        }
        None => return Err(Error::parse(root, "the response is not an XML document")),
    }
    let mut page = Page::default();
    for fragment in xml::fragments(doc, item_path)? {
        let converted = xml::from_str::<T>(fragment)
            .map_err(|e| e.to_string())
            .and_then(|item| convert(item, &mut page.warnings));
        match converted {
            Ok(Some(resource)) => page.resources.push(resource),
            Ok(None) => {}
            Err(why) => page
                .warnings
                .push(format!("{root}: skipped an item: {why}")),
        }
    }
    page.next_token = xml::text_at(doc, &[root, "nextToken"]).filter(|t| !t.is_empty());
    Ok(page)
}

fn instance(
    i: Instance,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Option<Resource>, String> {
    let id = present(i.instance_id).ok_or("an instance without instanceId")?;
    let mut relations = Vec::new();
    if let Some(subnet) = present(i.subnet_id) {
        relations.push(relation("subnet", scope.arn("subnet", &subnet)));
    }
    if let Some(vpc) = present(i.vpc_id) {
        relations.push(relation("vpc", scope.arn("vpc", &vpc)));
    }
    for group in i
        .group_set
        .items
        .into_iter()
        .filter_map(|g| present(g.group_id))
    {
        relations.push(relation(
            "security_group",
            scope.arn("security-group", &group),
        ));
    }
    let volumes = i.block_device_mapping.items.into_iter();
    for vol in volumes.filter_map(|d| d.ebs.and_then(|e| present(e.volume_id))) {
        relations.push(relation("volume", scope.arn("volume", &vol)));
    }

    let mut meta = Meta::new(&id, warnings);
    meta.text("instance_type", i.instance_type);
    meta.text("image_id", i.image_id);
    meta.text("private_ip", i.private_ip_address);
    meta.text("public_ip", i.ip_address);
    meta.text("launch_time", i.launch_time);
    meta.text(
        "availability_zone",
        i.placement.and_then(|p| p.availability_zone),
    );
    meta.text("architecture", i.architecture);
    meta.text("platform", i.platform);
    meta.text("key_name", i.key_name);
    meta.boolean("ebs_optimized", i.ebs_optimized);
    meta.text("root_device_type", i.root_device_type);
    let metadata = meta.finish();

    let tags = i.tag_set.into_tags();
    Ok(Some(Resource {
        resource_type: "ec2_instance".into(),
        arn: scope.arn("instance", &id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state: i.instance_state.and_then(|s| present(s.name)),
        tags,
        relations,
        metadata,
        identifier: id,
    }))
}

fn volume(
    v: Volume,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Option<Resource>, String> {
    let id = present(v.volume_id).ok_or("a volume without volumeId")?;
    let mut relations = Vec::new();
    for inst in v
        .attachment_set
        .items
        .into_iter()
        .filter_map(|a| present(a.instance_id))
    {
        relations.push(relation("instance", scope.arn("instance", &inst)));
    }
    if let Some(snap) = present(v.snapshot_id.clone()) {
        relations.push(relation("snapshot", scope.snapshot_arn(&snap)));
    }

    let mut meta = Meta::new(&id, warnings);
    meta.number("size_gib", v.size);
    meta.text("volume_type", v.volume_type);
    meta.number("iops", v.iops);
    meta.boolean("encrypted", v.encrypted);
    meta.text("kms_key_id", v.kms_key_id);
    meta.text("availability_zone", v.availability_zone);
    meta.text("create_time", v.create_time);
    meta.boolean("multi_attach", v.multi_attach_enabled);
    meta.text("snapshot_id", v.snapshot_id);
    let metadata = meta.finish();

    let tags = v.tag_set.into_tags();
    Ok(Some(Resource {
        resource_type: "ec2_volume".into(),
        arn: scope.arn("volume", &id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state: present(v.status),
        tags,
        relations,
        metadata,
        identifier: id,
    }))
}

fn snapshot(
    s: Snapshot,
    scope: &Scope,
    warnings: &mut Vec<String>,
) -> Result<Option<Resource>, String> {
    let id = present(s.snapshot_id).ok_or("a snapshot without snapshotId")?;
    // Emulators ignore `Owner=self` and list other accounts' AMI snapshots too.
    if present(s.owner_id).is_some_and(|owner| owner != scope.account) {
        return Ok(None);
    }
    let volume_id = present(s.volume_id).filter(|v| v != PLACEHOLDER_VOLUME);
    let mut relations = Vec::new();
    if let Some(vol) = &volume_id {
        relations.push(relation("snapshot_of", scope.arn("volume", vol)));
    }

    let mut meta = Meta::new(&id, warnings);
    meta.text("volume_id", volume_id);
    meta.number("volume_size_gib", s.volume_size);
    meta.text("start_time", s.start_time);
    meta.boolean("encrypted", s.encrypted);
    meta.text("description", s.description);
    meta.text("progress", s.progress);
    let metadata = meta.finish();

    let tags = s.tag_set.into_tags();
    Ok(Some(Resource {
        resource_type: "ec2_snapshot".into(),
        arn: scope.snapshot_arn(&id),
        name: name_from_tags(&tags, &id),
        region: scope.region.to_owned(),
        state: present(s.status),
        tags,
        relations,
        metadata,
        identifier: id,
    }))
}

fn relation(kind: &str, target_arn: String) -> Relation {
    Relation {
        kind: kind.to_owned(),
        target_arn,
    }
}

/// `Some` only for text with something in it: AWS writes `<snapshotId/>` for "none".
fn present(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Builds the metadata object. Absent fields are left out; a value that does not read as
/// its type is left out too, with a warning, because one odd field should not cost the
/// whole resource.
struct Meta<'w> {
    id: String,
    map: Map<String, Value>,
    warnings: &'w mut Vec<String>,
}

impl<'w> Meta<'w> {
    fn new(id: &str, warnings: &'w mut Vec<String>) -> Self {
        Meta {
            id: id.to_owned(),
            map: Map::new(),
            warnings,
        }
    }

    fn text(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            self.map.insert(key.to_owned(), Value::String(v));
        }
    }

    fn number(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            match v.parse::<u64>() {
                Ok(n) => {
                    self.map.insert(key.to_owned(), Value::from(n));
                }
                Err(_) => self.odd(key, &v, "a number"),
            }
        }
    }

    fn boolean(&mut self, key: &str, value: Option<String>) {
        if let Some(v) = present(value) {
            match v.as_str() {
                "true" => {
                    self.map.insert(key.to_owned(), Value::Bool(true));
                }
                "false" => {
                    self.map.insert(key.to_owned(), Value::Bool(false));
                }
                _ => self.odd(key, &v, "true or false"),
            }
        }
    }

    fn odd(&mut self, key: &str, value: &str, expected: &str) {
        self.warnings.push(format!(
            "{}: left out {key}: {value:?} is not {expected}",
            self.id
        ));
    }

    fn finish(self) -> String {
        Value::Object(self.map).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: Scope<'static> = Scope {
        partition: "aws",
        region: "eu-west-1",
        account: "123456789012",
    };

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn meta(r: &Resource) -> Value {
        serde_json::from_str(&r.metadata).unwrap()
    }

    fn relations(r: &Resource) -> Vec<(String, String)> {
        r.relations
            .iter()
            .map(|x| (x.kind.clone(), x.target_arn.clone()))
            .collect()
    }

    fn pair(kind: &str, arn: &str) -> (String, String) {
        (kind.to_owned(), arn.to_owned())
    }

    #[test]
    fn an_instance_becomes_a_resource_with_relations_and_metadata() {
        let page = instances_page(&fixture("describe_instances_page1.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(
            page.next_token.as_deref(),
            Some("eyJ2IjoiMiIsImMiOiJBQUFBQUFBQUFBQT0iLCJzIjoxfQ==")
        );
        let [i] = &page.resources[..] else {
            panic!("expected one instance, got {:?}", page.resources);
        };
        assert_eq!(i.resource_type, "ec2_instance");
        assert_eq!(i.identifier, "i-1234567890abcdef0");
        assert_eq!(
            i.arn,
            "arn:aws:ec2:eu-west-1:123456789012:instance/i-1234567890abcdef0"
        );
        assert_eq!(i.name, "web-1");
        assert_eq!(i.region, "eu-west-1");
        assert_eq!(i.state.as_deref(), Some("running"));
        let tags: Vec<_> = i.tags.iter().map(|t| (&t.key[..], &t.value[..])).collect();
        assert_eq!(tags, [("Name", "web-1"), ("env", "prod")]);
        let p = "arn:aws:ec2:eu-west-1:123456789012:";
        assert_eq!(
            relations(i),
            [
                pair("subnet", &format!("{p}subnet/subnet-56f5f633")),
                pair("vpc", &format!("{p}vpc/vpc-11112222")),
                pair("security_group", &format!("{p}security-group/sg-e4076980")),
                pair("security_group", &format!("{p}security-group/sg-0a1b2c3d")),
                pair("volume", &format!("{p}volume/vol-1234567890abcdef0")),
                pair("volume", &format!("{p}volume/vol-0fedcba9876543210")),
            ]
        );
        assert_eq!(
            meta(i),
            serde_json::json!({
                "instance_type": "t3.micro",
                "image_id": "ami-0abcdef1234567890",
                "private_ip": "192.168.1.88",
                "public_ip": "54.194.252.215",
                "launch_time": "2024-05-17T09:51:46.000Z",
                "availability_zone": "eu-west-1c",
                "architecture": "x86_64",
                "key_name": "my_keypair",
                "ebs_optimized": true,
                "root_device_type": "ebs",
            })
        );
    }

    #[test]
    fn odd_instances_become_warnings_and_the_page_goes_on() {
        let page = instances_page(&fixture("describe_instances_page2.xml"), &SCOPE).unwrap();
        assert_eq!(page.next_token, None);
        let ids: Vec<_> = page.resources.iter().map(|r| &r.identifier[..]).collect();
        assert_eq!(ids, ["i-0bbbbbbbbbbbbbbbb", "i-0dddddddddddddddd"]);
        assert_eq!(page.warnings.len(), 3, "{:?}", page.warnings);
        assert!(page.warnings[0].contains("ebs_optimized") && page.warnings[0].contains("maybe"));
        assert_eq!(
            page.warnings[1],
            "DescribeInstancesResponse: skipped an item: an instance without instanceId"
        );
        assert!(page.warnings[2]
            .starts_with("DescribeInstancesResponse: skipped an item: cannot parse Instance"));

        let windows = &page.resources[0];
        assert_eq!(windows.name, "i-0bbbbbbbbbbbbbbbb");
        assert_eq!(windows.state.as_deref(), Some("stopped"));
        assert!(windows.tags.is_empty());
        let m = meta(windows);
        assert_eq!(m["platform"], "windows");
        assert!(m.get("ebs_optimized").is_none());
        assert!(m.get("public_ip").is_none());

        let terminated = &page.resources[1];
        assert_eq!(
            terminated.name, "i-0dddddddddddddddd",
            "a blank Name tag is no name"
        );
        assert!(terminated.relations.is_empty());
        assert_eq!(meta(terminated), serde_json::json!({}));
    }

    #[test]
    fn volumes_link_to_instances_and_source_snapshots() {
        let page = volumes_page(&fixture("describe_volumes.xml"), &SCOPE).unwrap();
        assert_eq!(page.next_token, None, "an empty <nextToken/> ends paging");
        assert_eq!(
            page.warnings,
            ["DescribeVolumesResponse: skipped an item: a volume without volumeId"]
        );
        let [root, spare] = &page.resources[..] else {
            panic!("expected two volumes, got {:?}", page.resources);
        };
        assert_eq!(
            root.arn,
            "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1234567890abcdef0"
        );
        assert_eq!(root.name, "web-1-root");
        assert_eq!(root.state.as_deref(), Some("in-use"));
        assert_eq!(
            relations(root),
            [
                pair(
                    "instance",
                    "arn:aws:ec2:eu-west-1:123456789012:instance/i-1234567890abcdef0"
                ),
                pair(
                    "snapshot",
                    "arn:aws:ec2:eu-west-1::snapshot/snap-1234567890abcdef0"
                ),
            ]
        );
        assert_eq!(
            meta(root),
            serde_json::json!({
                "size_gib": 8,
                "volume_type": "gp3",
                "iops": 3000,
                "encrypted": true,
                "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                "availability_zone": "eu-west-1c",
                "create_time": "2024-05-17T09:51:47.000Z",
                "multi_attach": false,
                "snapshot_id": "snap-1234567890abcdef0",
            })
        );
        assert_eq!(spare.state.as_deref(), Some("available"));
        assert!(spare.relations.is_empty(), "<snapshotId/> is no snapshot");
        assert_eq!(meta(spare)["size_gib"], 100);
    }

    #[test]
    fn snapshots_link_to_their_volume_but_not_to_the_placeholder() {
        let page = snapshots_page(&fixture("describe_snapshots.xml"), &SCOPE).unwrap();
        assert!(page.warnings.is_empty(), "{:?}", page.warnings);
        assert_eq!(
            page.next_token.as_deref(),
            Some("c25hcC0wYWFhYWFhYWFhYWFhYWFhYQ==")
        );
        let [nightly, ami] = &page.resources[..] else {
            panic!("expected two snapshots, got {:?}", page.resources);
        };
        assert_eq!(
            nightly.arn,
            "arn:aws:ec2:eu-west-1::snapshot/snap-1234567890abcdef0"
        );
        assert_eq!(nightly.name, "web-1 nightly");
        assert_eq!(nightly.state.as_deref(), Some("completed"));
        assert_eq!(nightly.tags.len(), 2);
        assert_eq!(nightly.tags[1].value, "");
        assert_eq!(
            relations(nightly),
            [pair(
                "snapshot_of",
                "arn:aws:ec2:eu-west-1:123456789012:volume/vol-1234567890abcdef0"
            )]
        );
        assert_eq!(
            meta(nightly),
            serde_json::json!({
                "volume_id": "vol-1234567890abcdef0",
                "volume_size_gib": 8,
                "start_time": "2024-05-20T01:02:03.000Z",
                "encrypted": true,
                "description": "nightly backup of web-1",
                "progress": "100%",
            })
        );
        assert!(ami.relations.is_empty());
        assert!(meta(ami).get("volume_id").is_none());
        assert_eq!(ami.state.as_deref(), Some("pending"));
    }

    #[test]
    fn other_documents_are_errors_not_empty_pages() {
        let err = volumes_page(&fixture("describe_snapshots.xml"), &SCOPE).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse DescribeVolumesResponse: the response is a <DescribeSnapshotsResponse> document"
        );
        assert!(instances_page(b"<html><body>oops", &SCOPE).is_err());
        assert!(instances_page(b"", &SCOPE).is_err());
        assert!(snapshots_page(b"\xff\xfe", &SCOPE).is_err());
        let truncated = &fixture("describe_instances_page1.xml")[..600];
        assert!(instances_page(truncated, &SCOPE).is_err());
    }

    #[test]
    fn an_empty_listing_is_an_empty_page() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><reservationSet/></DescribeInstancesResponse>"#;
        let page = instances_page(body, &SCOPE).unwrap();
        assert!(page.resources.is_empty() && page.warnings.is_empty());
        assert_eq!(page.next_token, None);
    }

    #[test]
    fn other_partitions_appear_in_every_arn() {
        let scope = Scope {
            partition: "aws-cn",
            region: "cn-north-1",
            account: "123456789012",
        };
        let page = snapshots_page(&fixture("describe_snapshots.xml"), &scope).unwrap();
        assert_eq!(
            page.resources[0].arn,
            "arn:aws-cn:ec2:cn-north-1::snapshot/snap-1234567890abcdef0"
        );
        assert_eq!(
            page.resources[0].relations[0].target_arn,
            "arn:aws-cn:ec2:cn-north-1:123456789012:volume/vol-1234567890abcdef0"
        );
    }
}
