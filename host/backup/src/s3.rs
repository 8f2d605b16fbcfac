//! Copies of backups in S3, through the host's signed client (cloudops-aws).
//!
//! Every request carries `x-amz-expected-bucket-owner` (the caller's account, from STS), so a
//! bucket name that now belongs to someone else is refused by S3 rather than written to; every
//! upload asks for server-side encryption (`x-amz-server-side-encryption: AES256`) on top of
//! the archive's own. Archives at or above the multipart threshold go up in parts (create,
//! upload each part, complete; any failure aborts the upload so no partial object or orphaned
//! parts remain); downloads are ranged GETs of 8 MiB written straight to a file, so neither
//! direction holds an archive in memory. Paths are path-style (`/bucket/key`).

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use base64::Engine as _;
use cloudops_aws::{xml, AwsClient, AwsRequest, AwsResponse, SendError};
use sha2::{Digest, Sha256};

use crate::archive::{read_header, Header};
use crate::retention::{expired, S3_DAYS};
use crate::time_of;

/// The smallest part S3 accepts (except the last).
pub const MIN_PART: u64 = 5 << 20;
/// Default multipart threshold and part size.
pub const DEFAULT_THRESHOLD: u64 = 64 << 20;
/// Bytes per ranged GET.
const RANGE: u64 = 8 << 20;
/// The id of the lifecycle rule cloudops sets.
pub const RULE_ID: &str = "cloudops-backup-retention";

/// Why an S3 call failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// `s3://` URL that cannot be used.
    #[error("`{0}` is not an S3 location: write s3://BUCKET or s3://BUCKET/PREFIX")]
    BadLocation(String),
    /// The request was not answered.
    #[error("S3 {operation} failed: {source}")]
    Send {
        /// The operation.
        operation: &'static str,
        /// Why.
        source: SendError,
    },
    /// S3 answered with an error.
    #[error("S3 {operation} on {target} failed: {code}: {message} (HTTP {status}){advice}")]
    Aws {
        /// The operation.
        operation: &'static str,
        /// `s3://bucket/key`.
        target: String,
        /// HTTP status.
        status: u16,
        /// S3's error code.
        code: String,
        /// S3's message.
        message: String,
        /// What to do, for the codes that have an obvious answer.
        advice: &'static str,
    },
    /// An answer that lacks what was asked for.
    #[error("S3 {operation}: unexpected answer: {message}")]
    Malformed {
        /// The operation.
        operation: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The caller's account could not be found (STS).
    #[error("cannot tell which account owns the bucket (STS GetCallerIdentity): {0}")]
    Identity(String),
    /// Local file I/O while uploading or downloading.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, empty or ending in `/`.
    pub prefix: String,
}

impl Location {
    /// Parses `s3://bucket` or `s3://bucket/prefix`.
    pub fn parse(url: &str) -> Result<Self, S3Error> {
        let bad = || S3Error::BadLocation(url.to_owned());
        let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(bad());
        }
        let prefix = prefix.trim_matches('/');
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// `s3://bucket/key`.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// An object in the backup location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its key.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// When it was taken (from its name).
    pub created_at: i64,
}

/// A backup location in a bucket, with the client that reaches it.
#[derive(Debug, Clone)]
pub struct Bucket {
    client: AwsClient,
    region: String,
    owner: String,
    /// Where.
    pub location: Location,
}

impl Bucket {
    /// Asks STS for the caller's account (the expected bucket owner) and returns the bucket.
    pub async fn connect(
        client: AwsClient,
        region: &str,
        location: Location,
    ) -> Result<Self, S3Error> {
        let owner = client
            .account_id(region)
            .await
            .map_err(|e| S3Error::Identity(e.to_string()))?;
        Ok(Self {
            client,
            region: region.to_owned(),
            owner,
            location,
        })
    }

    fn request(&self, method: &str, key: &str, query: &[(&str, &str)]) -> AwsRequest {
        let path = if key.is_empty() {
            format!("/{}", self.location.bucket)
        } else {
            format!("/{}/{key}", self.location.bucket)
        };
        AwsRequest {
            service: "s3".to_owned(),
            method: method.to_owned(),
            path,
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: vec![("x-amz-expected-bucket-owner".to_owned(), self.owner.clone())],
            body: Vec::new(),
        }
    }

    async fn call(
        &self,
        operation: &'static str,
        key: &str,
        request: AwsRequest,
        max_body: usize,
    ) -> Result<AwsResponse, S3Error> {
        let response = self
            .client
            .send(&request, &self.region, max_body)
            .await
            .map_err(|source| S3Error::Send { operation, source })?;
        // CompleteMultipartUpload can answer 200 with an error document.
        let error_in_200 = operation == "CompleteMultipartUpload"
            && xml::first_text(&response.body, "Code").is_some();
        if response.is_success() && !error_in_200 {
            return Ok(response);
        }
        let (code, message) = xml::error_of(response.status, &response.body);
        let advice = match code.as_str() {
            "NoSuchBucket" => "; create the bucket, or fix `[backup] s3` in config.toml",
            "AccessDenied" => {
                "; the bucket belongs to another account, or these credentials may not use it"
            }
            _ => "",
        };
        Err(S3Error::Aws {
            operation,
            target: self.location.url(key),
            status: response.status,
            code,
            message,
            advice,
        })
    }

    /// Uploads `file` as `<prefix><file name>`: one PUT below `threshold` bytes, multipart
    /// (parts of `threshold` bytes) from it. AWS refuses parts under [`MIN_PART`] but the last
    /// (`EntityTooSmall`, and the upload is aborted); S3-compatible stores may accept them.
    /// Returns the key.
    pub async fn upload(&self, file: &Path, threshold: u64) -> Result<String, S3Error> {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| io_error(file, "not a file name"))?;
        let key = format!("{}{name}", self.location.prefix);
        let size = fs::metadata(file).map_err(|e| io_error(file, e))?.len();
        if size < threshold {
            let mut request = self.request("PUT", &key, &[]);
            request.body = fs::read(file).map_err(|e| io_error(file, e))?;
            sse(&mut request);
            self.call("PutObject", &key, request, 1 << 20).await?;
        } else {
            self.multipart(file, &key, threshold.max(1)).await?;
        }
        // The object must be whole: compare its size with the file's.
        let stored = self.size_of(&key).await?;
        if stored != size {
            return Err(S3Error::Malformed {
                operation: "HeadObject",
                message: format!("{key} holds {stored} bytes, the archive {size}"),
            });
        }
        Ok(key)
    }

    async fn multipart(&self, file: &Path, key: &str, part_size: u64) -> Result<(), S3Error> {
        let mut request = self.request("POST", key, &[("uploads", "")]);
        sse(&mut request);
        let created = self
            .call("CreateMultipartUpload", key, request, 1 << 20)
            .await?;
        let upload_id =
            xml::first_text(&created.body, "UploadId").ok_or_else(|| S3Error::Malformed {
                operation: "CreateMultipartUpload",
                message: "no UploadId".to_owned(),
            })?;
        let outcome = self.upload_parts(file, key, &upload_id, part_size).await;
        if outcome.is_err() {
            let abort = self.request("DELETE", key, &[("uploadId", &upload_id)]);
            if let Err(e) = self.call("AbortMultipartUpload", key, abort, 1 << 20).await {
                tracing::warn!("{e}; a lifecycle rule (`cloudops backup lifecycle`) cleans up");
            }
        }
        outcome
    }

    async fn upload_parts(
        &self,
        file: &Path,
        key: &str,
        upload_id: &str,
        part_size: u64,
    ) -> Result<(), S3Error> {
        let mut input = fs::File::open(file).map_err(|e| io_error(file, e))?;
        let mut etags = Vec::new();
        loop {
            let mut body = Vec::with_capacity(part_size as usize);
            (&mut input)
                .take(part_size)
                .read_to_end(&mut body)
                .map_err(|e| io_error(file, e))?;
            if body.is_empty() && !etags.is_empty() {
                break;
            }
            let number = (etags.len() + 1).to_string();
            let mut request = self.request(
                "PUT",
                key,
                &[("partNumber", &number), ("uploadId", upload_id)],
            );
            let last = (body.len() as u64) < part_size;
            request.body = body;
            let answer = self.call("UploadPart", key, request, 1 << 20).await?;
            let etag = header(&answer, "etag").ok_or_else(|| S3Error::Malformed {
                operation: "UploadPart",
                message: "no ETag".to_owned(),
            })?;
            tracing::debug!(part = etags.len() + 1, "uploaded");
            etags.push(etag);
            if last {
                break;
            }
        }
        let mut xml_body = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            xml_body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                escape(etag)
            ));
        }
        xml_body.push_str("</CompleteMultipartUpload>");
        let mut request = self.request("POST", key, &[("uploadId", upload_id)]);
        request.body = xml_body.into_bytes();
        self.call("CompleteMultipartUpload", key, request, 1 << 20)
            .await?;
        Ok(())
    }

    async fn size_of(&self, key: &str) -> Result<u64, S3Error> {
        let answer = self
            .call("HeadObject", key, self.request("HEAD", key, &[]), 0)
            .await?;
        header(&answer, "content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| S3Error::Malformed {
                operation: "HeadObject",
                message: format!("{key}: no Content-Length"),
            })
    }

    /// The backups under the prefix, oldest first.
    pub async fn list(&self) -> Result<Vec<Object>, S3Error> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("list-type", "2"),
                ("prefix", self.location.prefix.as_str()),
            ];
            if let Some(t) = &token {
                query.push(("continuation-token", t));
            }
            let request = self.request("GET", "", &query);
            let answer = self.call("ListObjectsV2", "", request, 16 << 20).await?;
            let keys = xml::texts(&answer.body, "Key");
            let sizes = xml::texts(&answer.body, "Size");
            for (key, size) in keys.into_iter().zip(sizes) {
                if let Some(created_at) = time_of(&key) {
                    objects.push(Object {
                        key,
                        size: size.parse().unwrap_or(0),
                        created_at,
                    });
                }
            }
            token = xml::first_text(&answer.body, "NextContinuationToken");
            if xml::first_text(&answer.body, "IsTruncated").as_deref() != Some("true")
                || token.is_none()
            {
                break;
            }
        }
        objects.sort_by_key(|o| o.created_at);
        Ok(objects)
    }

    /// The header of the backup at `key` (one ranged GET).
    pub async fn header(&self, key: &str) -> Result<Header, S3Error> {
        let body = self.range(key, 0, 65_535).await?;
        read_header(&mut body.as_slice())
            .map(|(h, _)| h)
            .map_err(|e| S3Error::Malformed {
                operation: "GetObject",
                message: format!("{key}: {e}"),
            })
    }

    async fn range(&self, key: &str, from: u64, to: u64) -> Result<Vec<u8>, S3Error> {
        let mut request = self.request("GET", key, &[]);
        request
            .headers
            .push(("range".to_owned(), format!("bytes={from}-{to}")));
        let answer = self
            .call("GetObject", key, request, (to - from + 1) as usize + 1024)
            .await?;
        Ok(answer.body)
    }

    /// Downloads the object at `key` into `to` (created, mode 0600); returns its size.
    pub async fn download(&self, key: &str, to: &Path) -> Result<u64, S3Error> {
        let size = self.size_of(key).await?;
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(to).map_err(|e| io_error(to, e))?;
        let mut at = 0;
        while at < size {
            let end = (at + RANGE).min(size) - 1;
            let body = self.range(key, at, end).await?;
            if body.len() as u64 != end - at + 1 {
                return Err(S3Error::Malformed {
                    operation: "GetObject",
                    message: format!(
                        "{key}: asked for {} bytes, got {}",
                        end - at + 1,
                        body.len()
                    ),
                });
            }
            out.seek(SeekFrom::Start(at))
                .and_then(|_| out.write_all(&body))
                .map_err(|e| io_error(to, e))?;
            at = end + 1;
        }
        out.sync_all().map_err(|e| io_error(to, e))?;
        Ok(size)
    }

    /// Deletes the object at `key`.
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        self.call(
            "DeleteObject",
            key,
            self.request("DELETE", key, &[]),
            1 << 20,
        )
        .await
        .map(drop)
    }

    /// Deletes the backups older than [`S3_DAYS`] at `now` (the newest is always kept);
    /// returns their keys.
    pub async fn prune(&self, now: i64) -> Result<Vec<String>, S3Error> {
        let keys: Vec<String> = self.list().await?.into_iter().map(|o| o.key).collect();
        let mut deleted = Vec::new();
        for key in expired(&keys, now, S3_DAYS) {
            self.delete(key).await?;
            deleted.push(key.to_owned());
        }
        Ok(deleted)
    }

    /// The lifecycle rule cloudops offers: expire backups under the prefix after `days`, and
    /// abort multipart uploads left incomplete for a day.
    pub fn lifecycle_rule(&self, days: i64) -> String {
        format!(
            "<Rule><ID>{RULE_ID}</ID><Filter><Prefix>{}</Prefix></Filter><Status>Enabled</Status>\
             <Expiration><Days>{days}</Days></Expiration>\
             <AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>\
             </AbortIncompleteMultipartUpload></Rule>",
            escape(&self.location.prefix)
        )
    }

    /// Sets [`Bucket::lifecycle_rule`] on the bucket, keeping its other rules (the rule with
    /// cloudops's id is replaced). Returns how many other rules were kept.
    pub async fn set_lifecycle(&self, days: i64) -> Result<usize, S3Error> {
        let existing = self
            .call(
                "GetBucketLifecycleConfiguration",
                "",
                self.request("GET", "", &[("lifecycle", "")]),
                4 << 20,
            )
            .await;
        let others: Vec<String> = match existing {
            Ok(answer) => rules(&String::from_utf8_lossy(&answer.body))
                .into_iter()
                .filter(|r| !r.contains(&format!("<ID>{RULE_ID}</ID>")))
                .collect(),
            Err(S3Error::Aws { code, .. }) if code == "NoSuchLifecycleConfiguration" => Vec::new(),
            Err(e) => return Err(e),
        };
        let body = format!(
            "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}{}\
             </LifecycleConfiguration>",
            others.concat(),
            self.lifecycle_rule(days)
        );
        let mut request = self.request("PUT", "", &[("lifecycle", "")]);
        // S3 wants a checksum of this body; SHA-256 stands in for Content-MD5.
        request.headers.push((
            "x-amz-checksum-sha256".to_owned(),
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes())),
        ));
        request.headers.push((
            "x-amz-sdk-checksum-algorithm".to_owned(),
            "SHA256".to_owned(),
        ));
        request.body = body.into_bytes();
        self.call("PutBucketLifecycleConfiguration", "", request, 1 << 20)
            .await?;
        Ok(others.len())
    }
}

/// The `<Rule>...</Rule>` elements of a lifecycle configuration, as written.
fn rules(xml_text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml_text;
    while let Some(start) = rest.find("<Rule>") {
        let Some(len) = rest[start..].find("</Rule>") else {
            break;
        };
        let end = start + len + "</Rule>".len();
        out.push(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    out
}

fn sse(request: &mut AwsRequest) {
    request.headers.push((
        "x-amz-server-side-encryption".to_owned(),
        "AES256".to_owned(),
    ));
}

fn header(answer: &AwsResponse, name: &str) -> Option<String> {
    answer
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> S3Error {
    S3Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_with_and_without_a_prefix() {
        let l = Location::parse("s3://my-backups/cloudops/laptop/").unwrap();
        assert_eq!(l.bucket, "my-backups");
        assert_eq!(l.prefix, "cloudops/laptop/");
        assert_eq!(Location::parse("s3://my-backups").unwrap().prefix, "");
        for bad in ["my-backups", "s3://", "s3://UPPER", "https://x/y"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lifecycle_rules_are_found_as_written() {
        let text = "<LifecycleConfiguration><Rule><ID>a</ID></Rule><Rule><ID>b</ID></Rule>\
                    </LifecycleConfiguration>";
        assert_eq!(
            rules(text),
            vec!["<Rule><ID>a</ID></Rule>", "<Rule><ID>b</ID></Rule>"]
        );
    }
}
