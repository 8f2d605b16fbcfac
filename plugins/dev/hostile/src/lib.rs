//! A scanner that misbehaves on purpose, for the host's security tests. Never ship it.
//!
//! The `attack` setting picks the misbehaviour; each one must end as a refusal, a trap or
//! a limit hit on the host side. Where the plugin can observe the outcome it reports it:
//! `Err(host's text)` when the host refused, `Ok` when an attack got through (so the test
//! that expected a refusal fails).

use core::hint::black_box;

use cloudops_scanner_sdk::bindings::cloudops::scanner::aws;
use cloudops_scanner_sdk::query::QueryRequest;
use cloudops_scanner_sdk::xml::{self, Listing};
use cloudops_scanner_sdk::{
    constraints, resource_type, setting, Constraints, Emitter, PluginInfo, Resource, ScanContext,
    ScanSummary, Scanner, Scope,
};

const EC2_VERSION: &str = "2016-11-15";

struct Hostile;

impl Scanner for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            services: vec![
                "ec2".into(),
                "s3".into(),
                "iam".into(),
                "secretsmanager".into(),
            ],
            resource_types: vec![resource_type("ec2_instance", &[])],
        }
    }

    fn scan(ctx: ScanContext) -> Result<ScanSummary, String> {
        match setting(&ctx, "attack").unwrap_or("none") {
            "none" => normal_scan(&ctx),
            "loop" => spin(),
            "alloc" => hog_memory(),
            "write" => outcome(
                QueryRequest::new("ec2", "TerminateInstances", EC2_VERSION)
                    .param("InstanceId.1", "i-12345678"),
            ),
            "undeclared" => outcome(QueryRequest::new("rds", "DescribeDBInstances", "2014-10-31")),
            "forge" => forge(),
            "flood" => flood(),
            "panic" => panic!("hostile plugin panicked on purpose"),
            "sts" => raw_outcome(query_request("sts", "GetSessionToken", "2011-06-15", "")),
            "secret" => raw_outcome(json_request(
                "secretsmanager",
                "secretsmanager.GetSecretValue",
                br#"{"SecretId":"db-password"}"#,
            )),
            "s3-put-as-get" => raw_outcome(rest_request(
                "PUT",
                &format!("/{}/loot.txt", setting(&ctx, "bucket").unwrap_or("b")),
                &[("Action", "GetObject")],
                &[],
                b"stolen".to_vec(),
            )),
            "s3-delete-as-get" => raw_outcome(rest_request(
                "DELETE",
                &format!("/{}/keep.txt", setting(&ctx, "bucket").unwrap_or("b")),
                &[],
                &[("X-Amz-Target", "AmazonS3.GetObject")],
                Vec::new(),
            )),
            "s3-policy" => raw_outcome(rest_request(
                "PUT",
                &format!("/{}", setting(&ctx, "bucket").unwrap_or("b")),
                &[("policy", ""), ("Action", "GetBucketPolicy")],
                &[],
                br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#.to_vec(),
            )),
            "s3-foreign" => raw_outcome(rest_request(
                "GET",
                &format!("/{}", setting(&ctx, "bucket").unwrap_or("b")),
                &[("prefix", "stolen=AKIA")],
                &[("User-Agent", "stolen=AKIA")],
                Vec::new(),
            )),
            "s3-foreign-clean" => raw_outcome(rest_request(
                "GET",
                &format!("/{}", setting(&ctx, "bucket").unwrap_or("b")),
                &[("prefix", "stolen=AKIA")],
                &[],
                Vec::new(),
            )),
            "gzip-write" => {
                let mut req = query_request("iam", "ListUsers", "2010-05-08", "");
                req.query = vec![("Action".into(), "ListUsers".into())];
                req.headers.push(("Content-Encoding".into(), "gzip".into()));
                req.body = gzip_stored(b"Action=CreateUser&UserName=evil&Version=2010-05-08");
                raw_outcome(req)
            }
            "binary-write" => {
                let mut req = query_request("ec2", "DescribeInstances", EC2_VERSION, "");
                req.body = b"Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1\xff".to_vec();
                raw_outcome(req)
            }
            "refusal-flood" => {
                let req = query_request("ec2", "TerminateInstances", EC2_VERSION, "&InstanceId.1=i-1");
                for _ in 0..200_000 {
                    if let Err(e) = aws::send(&req) {
                        if e.contains("requests per scan") {
                            return Err(e);
                        }
                    }
                }
                Ok(summary(0, vec!["sent 200000 refused requests without being stopped".into()]))
            }
            "escape" => {
                let mut r = instance(&ctx, "i-escape00000000000", "{}");
                r.name = "web\u{1b}]52;c;c3RvbGVu\u{7}\u{1b}[2K\rok".into();
                r.tags = vec![cloudops_scanner_sdk::Tag {
                    key: "env\u{1b}[31m".into(),
                    value: "prod\u{1b}]0;pwned\u{7}".into(),
                }];
                let mut out = Emitter::new();
                out.push(r);
                Ok(summary(out.finish(), vec!["warn\u{1b}[2J".into()]))
            }
            "huge" => {
                let mut r = instance(&ctx, "i-huge000000000000", "{}");
                r.name = "x".repeat(4 << 20);
                let mut out = Emitter::new();
                out.push(r);
                Ok(summary(out.finish(), Vec::new()))
            }
            "badjson" => {
                let mut out = Emitter::new();
                out.push(instance(&ctx, "i-badjson0000000000", "not json"));
                Ok(summary(out.finish(), Vec::new()))
            }
            other => Err(format!("unknown attack `{other}`")),
        }
    }

    fn analyze(_r: Resource) -> Constraints {
        constraints::none()
    }
}

fn summary(resources: u32, warnings: Vec<String>) -> ScanSummary {
    ScanSummary {
        resources,
        warnings,
        incomplete_types: Vec::new(),
    }
}

fn describe_instances() -> QueryRequest {
    QueryRequest::new("ec2", "DescribeInstances", EC2_VERSION)
}

fn instance(ctx: &ScanContext, id: &str, metadata: &str) -> Resource {
    Resource {
        resource_type: "ec2_instance".into(),
        identifier: id.into(),
        arn: Scope::of(ctx).ec2("instance", id),
        name: id.into(),
        region: ctx.region.clone(),
        state: None,
        tags: Vec::new(),
        relations: Vec::new(),
        metadata: metadata.into(),
    }
}

/// One DescribeInstances page, so the tests can check a well-behaved call goes through.
fn normal_scan(ctx: &ScanContext) -> Result<ScanSummary, String> {
    let body = describe_instances().send().map_err(|e| e.to_string())?;
    let items = ["reservationSet", "item", "instancesSet", "item"];
    let page = Listing::item_set("DescribeInstances", &items)
        .parse_fragments(&body, |item, _| {
            let id = xml::text_at(item, &["item", "instanceId"]).filter(|s| !s.is_empty());
            Ok(id.map(|id| instance(ctx, &id, "{}")))
        })
        .map_err(|e| e.to_string())?;
    let mut out = Emitter::new();
    out.extend(page.items);
    Ok(summary(out.finish(), page.warnings))
}

/// Burns CPU until the host's fuel or epoch deadline stops it. `black_box` keeps the
/// optimiser from proving the loop useless and deleting it.
fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = counter.wrapping_add(black_box(1));
        black_box(counter);
    }
}

/// Grows linear memory towards 4 GiB in 64 MiB chunks, touching every page so the memory
/// is really used, until the host's memory limit stops it.
fn hog_memory() -> Result<ScanSummary, String> {
    const CHUNK: usize = 64 << 20;
    const PAGE: usize = 64 << 10;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..64 {
        let mut chunk = vec![0u8; CHUNK];
        for i in (0..CHUNK).step_by(PAGE) {
            chunk[i] = black_box(1);
        }
        chunks.push(black_box(chunk));
    }
    Err(format!(
        "allocated {} MiB without being stopped",
        chunks.len() * (CHUNK >> 20)
    ))
}

/// Sends a request the host must refuse; reports the refusal as `Err`.
fn outcome(req: QueryRequest) -> Result<ScanSummary, String> {
    match req.send_raw() {
        Ok(resp) => Ok(summary(0, vec![format!("status={}", resp.status)])),
        Err(e) => Err(e.to_string()),
    }
}

fn query_request(service: &str, action: &str, version: &str, extra: &str) -> aws::Request {
    aws::Request {
        service: service.into(),
        method: "POST".into(),
        path: "/".into(),
        query: Vec::new(),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        )],
        body: format!("Action={action}&Version={version}{extra}").into_bytes(),
    }
}

fn json_request(service: &str, target: &str, body: &[u8]) -> aws::Request {
    aws::Request {
        service: service.into(),
        method: "POST".into(),
        path: "/".into(),
        query: Vec::new(),
        headers: vec![("X-Amz-Target".into(), target.into())],
        body: body.to_vec(),
    }
}

fn rest_request(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> aws::Request {
    let pairs = |p: &[(&str, &str)]| {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    aws::Request {
        service: "s3".into(),
        method: method.into(),
        path: path.into(),
        query: pairs(query),
        headers: pairs(headers),
        body,
    }
}

/// Sends a raw request; `Err(host's text)` when refused, `Ok` with the status when it got
/// through (so a test expecting a refusal fails).
fn raw_outcome(req: aws::Request) -> Result<ScanSummary, String> {
    match aws::send(&req) {
        Ok(resp) => Ok(summary(0, vec![format!("status={}", resp.status)])),
        Err(e) => Err(e),
    }
}

/// `data` as a gzip member holding one stored (uncompressed) deflate block: what the
/// issue's attacker sent behind a harmless query string.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1];
    let len = data.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Sets the headers the host must refuse; the status tells the test whether the host
/// signed the request itself.
fn forge() -> Result<ScanSummary, String> {
    let req = describe_instances()
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAFORGED/20000101/us-east-1/ec2/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        )
        .header("X-Amz-Security-Token", "forged")
        .header("X-Amz-Date", "20000101T000000Z")
        .header("Host", "evil.example");
    let resp = req.send_raw().map_err(|e| e.to_string())?;
    Ok(summary(0, vec![format!("status={}", resp.status)]))
}

/// Sends until the host's per-scan request budget says no.
fn flood() -> Result<ScanSummary, String> {
    let req = describe_instances();
    for _ in 0..10_000 {
        if let Err(e) = req.send_raw() {
            return Err(e.to_string());
        }
    }
    Ok(summary(
        0,
        vec!["sent 10000 requests without being stopped".into()],
    ))
}

cloudops_scanner_sdk::export!(Hostile);
