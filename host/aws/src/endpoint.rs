//! Which URL a (service, region) pair is sent to.
//!
//! The host, never a plugin, decides where a request goes. Overrides follow the AWS SDKs'
//! conventions so emulators and VPC endpoints work unchanged: `AWS_ENDPOINT_URL_<SERVICE>`
//! wins over `AWS_ENDPOINT_URL`, which wins over the public endpoint.

use std::collections::BTreeMap;

/// Resolves service endpoints. Built once from the environment (or explicitly in tests).
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    global: Option<String>,
    per_service: BTreeMap<String, String>,
}

/// An endpoint that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The service name is not a plain lowercase AWS service id.
    #[error("`{0}` is not a valid AWS service name (expected lowercase letters, digits and '-')")]
    InvalidService(String),
    /// The region name is not a plain AWS region id.
    #[error("`{0}` is not a valid AWS region name (expected something like `us-west-2`)")]
    InvalidRegion(String),
}

impl Endpoints {
    /// Reads `AWS_ENDPOINT_URL` and every `AWS_ENDPOINT_URL_<SERVICE>` from the environment.
    pub fn from_env() -> Self {
        let mut endpoints = Self::default();
        for (key, value) in std::env::vars() {
            if value.trim().is_empty() {
                continue;
            }
            if key == "AWS_ENDPOINT_URL" {
                endpoints.global = Some(value);
            } else if let Some(service) = key.strip_prefix("AWS_ENDPOINT_URL_") {
                // The SDKs spell the service id in upper snake case: EC2, S3, RDS, ...
                endpoints
                    .per_service
                    .insert(service.to_ascii_lowercase().replace('_', "-"), value);
            }
        }
        endpoints
    }

    /// Sends every service to `url` (an emulator, usually).
    pub fn with_global(mut self, url: impl Into<String>) -> Self {
        self.global = Some(url.into());
        self
    }

    /// Sends `service` to `url`.
    pub fn with_service(mut self, service: &str, url: impl Into<String>) -> Self {
        self.per_service.insert(service.to_owned(), url.into());
        self
    }

    /// True when any override is set, i.e. requests may not go to AWS itself.
    pub fn is_overridden(&self) -> bool {
        self.global.is_some() || !self.per_service.is_empty()
    }

    /// The base URL (scheme, host, optional port and path prefix, no trailing `/`) for
    /// `service` in `region`, and the region to sign for.
    pub fn resolve(&self, service: &str, region: &str) -> Result<Resolved, EndpointError> {
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(EndpointError::InvalidService(service.to_owned()));
        }
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(EndpointError::InvalidRegion(region.to_owned()));
        }
        // IAM is global: one endpoint, always signed for us-east-1 in the aws partition.
        let signing_region = if service == "iam" && !region.starts_with("cn-") {
            "us-east-1"
        } else {
            region
        };
        let overridden = self
            .per_service
            .get(service)
            .or(self.global.as_ref())
            .map(|url| url.trim_end_matches('/').to_owned());
        let url = overridden.unwrap_or_else(|| {
            let suffix = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            if service == "iam" && !region.starts_with("cn-") {
                format!("https://iam.{suffix}")
            } else {
                format!("https://{service}.{region}.{suffix}")
            }
        });
        Ok(Resolved {
            url,
            signing_region: signing_region.to_owned(),
        })
    }
}

/// Where one request goes and how it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Base URL without a trailing `/`.
    pub url: String,
    /// Region for the SigV4 credential scope.
    pub signing_region: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_endpoints_follow_the_aws_pattern() {
        let e = Endpoints::default();
        assert_eq!(
            e.resolve("ec2", "us-west-2").unwrap().url,
            "https://ec2.us-west-2.amazonaws.com"
        );
        let iam = e.resolve("iam", "eu-west-1").unwrap();
        assert_eq!(iam.url, "https://iam.amazonaws.com");
        assert_eq!(iam.signing_region, "us-east-1");
        assert_eq!(
            e.resolve("ec2", "cn-north-1").unwrap().url,
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn per_service_override_wins_over_global() {
        let e = Endpoints::default()
            .with_global("http://127.0.0.1:5000/")
            .with_service("s3", "http://127.0.0.1:9000");
        assert_eq!(
            e.resolve("ec2", "us-east-1").unwrap().url,
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            e.resolve("s3", "us-east-1").unwrap().url,
            "http://127.0.0.1:9000"
        );
    }

    #[test]
    fn names_that_could_change_the_host_are_refused() {
        let e = Endpoints::default();
        assert!(e.resolve("evil.com/x", "us-east-1").is_err());
        assert!(e.resolve("ec2", "us-east-1.evil.com").is_err());
        assert!(e.resolve("", "us-east-1").is_err());
    }
}
