//! SigV4 signing with `aws-sigv4`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// Signs `request` in place for `service` in `region`, adding `Authorization`,
/// `X-Amz-Date`, `X-Amz-Security-Token` (for temporary credentials) and, for S3,
/// `X-Amz-Content-Sha256`.
///
/// The error text never contains key material: `aws-sigv4` errors describe the request.
pub(crate) fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    credentials: &Credentials,
    service: &str,
    region: &str,
    time: SystemTime,
) -> Result<(), String> {
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        // S3 differs from every other service: it wants a payload hash header, and it
        // signs the path as sent (encoded once, `.` and `//` kept) because object keys
        // are arbitrary strings.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot build signing parameters: {e}"))?
        .into();
    let uri = request.uri().to_string();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
    let signable = SignableRequest::new(
        request.method().as_str(),
        &uri,
        headers,
        SignableBody::Bytes(request.body()),
    )
    .map_err(|e| format!("request cannot be signed: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("signing failed: {e}"))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn signature_is_deterministic_and_scoped() {
        let creds = Credentials::from_keys(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
        );
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        let build = || {
            http::Request::builder()
                .method("POST")
                .uri("https://ec2.us-west-2.amazonaws.com/")
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )
                .body(b"Action=DescribeInstances&Version=2016-11-15".to_vec())
                .unwrap()
        };
        let mut a = build();
        let mut b = build();
        sign_request(&mut a, &creds, "ec2", "us-west-2", time).unwrap();
        sign_request(&mut b, &creds, "ec2", "us-west-2", time).unwrap();
        let auth = a.headers()["authorization"].to_str().unwrap().to_owned();
        assert_eq!(auth, b.headers()["authorization"].to_str().unwrap());
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/ec2/aws4_request"
            ),
            "{auth}"
        );
        assert!(
            !auth.contains("wJalr"),
            "the secret must never appear in a header"
        );
        assert_eq!(a.headers()["x-amz-date"], "20150830T123600Z");
    }

    #[test]
    fn session_tokens_are_sent() {
        let creds = Credentials::from_keys("AKID", "SECRET", Some("TOKEN".into()));
        let mut req = http::Request::builder()
            .method("GET")
            .uri("https://s3.us-east-1.amazonaws.com/bucket")
            .body(Vec::new())
            .unwrap();
        sign_request(&mut req, &creds, "s3", "us-east-1", SystemTime::now()).unwrap();
        assert_eq!(req.headers()["x-amz-security-token"], "TOKEN");
        assert!(req.headers().contains_key("x-amz-content-sha256"));
    }
}
