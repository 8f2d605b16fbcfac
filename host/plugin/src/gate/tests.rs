//! The gate over request fixtures: every protocol's edge cases and every attack class of
//! issue 13, without an emulator or a guest toolchain.

use super::*;

const CAPS: RequestCaps = RequestCaps {
    path: 2048,
    query: 8192,
    body: 1 << 20,
};

fn grant(services: &[&str], actions: Option<&[&str]>) -> Grant {
    Grant::new(
        &CapabilitySpec {
            services: services.iter().map(|s| s.to_string()).collect(),
            actions: actions.map(|a| a.iter().map(|s| s.to_string()).collect()),
            methods: None,
        },
        CAPS,
    )
    .unwrap()
}

fn query(service: &str, action: &str, version: &str) -> AwsRequest {
    AwsRequest::query_protocol(service, action, version, &[])
}

fn rest(service: &str, method: &str, path: &str, query: &[(&str, &str)]) -> AwsRequest {
    AwsRequest {
        service: service.into(),
        method: method.into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn json(service: &str, target: &str, body: &str) -> AwsRequest {
    AwsRequest {
        service: service.into(),
        method: "POST".into(),
        path: "/".into(),
        query: Vec::new(),
        headers: vec![("X-Amz-Target".into(), target.into())],
        body: body.as_bytes().to_vec(),
    }
}

fn op(result: Result<Classified, Refusal>) -> String {
    match result {
        Ok(c) => c.operation.to_string(),
        Err(e) => format!("refused: {e}"),
    }
}

#[test]
fn query_protocol_reads_are_granted_by_default() {
    let g = grant(&["ec2", "rds"], None);
    assert_eq!(
        op(g.check(&query("ec2", "DescribeInstances", "2016-11-15"))),
        "ec2:DescribeInstances"
    );
    assert_eq!(
        op(g.check(&query("rds", "DescribeDBInstances", "2014-10-31"))),
        "rds:DescribeDBInstances"
    );
}

#[test]
fn writes_are_never_granted() {
    let g = grant(&["ec2"], None);
    let err = g
        .check(&query("ec2", "TerminateInstances", "2016-11-15"))
        .unwrap_err();
    assert!(err.to_string().contains("not a read"), "{err}");
    let spec = CapabilitySpec {
        services: vec!["ec2".into()],
        actions: Some(vec!["ec2:StopInstances".into()]),
        methods: Some(vec!["POST".into(), "DELETE".into()]),
    };
    let err = Grant::new(&spec, CAPS).unwrap_err();
    assert!(err.to_string().contains("not a read"), "{err}");
}

#[test]
fn get_is_not_a_default_grant() {
    let g = grant(&["ec2"], None);
    let err = g
        .check(&query("ec2", "GetConsoleOutput", "2016-11-15"))
        .unwrap_err();
    assert!(err.to_string().contains("sensitive"), "{err}");
    let err = g
        .check(&query("ec2", "GetEbsEncryptionByDefault", "2016-11-15"))
        .unwrap_err();
    assert!(err.to_string().contains("capabilities.actions"), "{err}");
}

#[test]
fn credential_services_are_refused_whatever_the_manifest_says() {
    let spec = CapabilitySpec {
        services: vec!["sts".into()],
        actions: None,
        methods: None,
    };
    assert!(Grant::new(&spec, CAPS).is_err());
    let g = grant(&["ec2"], None);
    let err = g
        .check(&query("sts", "GetSessionToken", "2011-06-15"))
        .unwrap_err();
    assert!(matches!(err, Refusal::NeverService { .. }), "{err}");
}

#[test]
fn sensitive_reads_need_their_exact_name() {
    // A wildcard never reaches them...
    let g = grant(
        &["secretsmanager", "ssm"],
        Some(&["secretsmanager:*", "ssm:Get*"]),
    );
    assert!(g
        .check(&json(
            "secretsmanager",
            "secretsmanager.GetSecretValue",
            "{}"
        ))
        .is_err());
    let r = json(
        "ssm",
        "AmazonSSM.GetParametersByPath",
        r#"{"Path":"/","WithDecryption":true}"#,
    );
    assert!(g.check(&r).is_err());
    // ...but a name does, and the grant says why it is sensitive.
    let g = grant(
        &["secretsmanager"],
        Some(&["secretsmanager:GetSecretValue"]),
    );
    let c = g
        .check(&json(
            "secretsmanager",
            "secretsmanager.GetSecretValue",
            "{}",
        ))
        .unwrap();
    assert_eq!(c.operation.to_string(), "secretsmanager:GetSecretValue");
    let (_, why) = g.operations().next().unwrap();
    assert!(why.unwrap().contains("secret"));
}

#[test]
fn the_default_grant_holds_no_sensitive_or_write_operation() {
    let g = grant(
        &["ec2", "s3", "lambda", "iam", "secretsmanager", "ssm", "kms"],
        None,
    );
    for (op, why) in g.operations() {
        assert!(why.is_none(), "{op} is sensitive but granted by default");
        assert!(
            op.name.starts_with("Describe") || op.name.starts_with("List"),
            "{op}"
        );
    }
    let names: Vec<String> = g.operations().map(|(o, _)| o.to_string()).collect();
    assert!(names.contains(&"ec2:DescribeInstances".to_string()));
    assert!(
        !names.contains(&"lambda:ListFunctions".to_string()),
        "environment variables"
    );
    assert!(!names.contains(&"secretsmanager:ListSecrets".to_string()));
    let g = grant(&["ecs", "amplify"], None);
    let names: Vec<String> = g.operations().map(|(o, _)| o.to_string()).collect();
    assert!(
        !names.contains(&"ecs:DescribeTaskDefinition".to_string()),
        "environment variables"
    );
    assert!(
        !names.contains(&"amplify:ListApps".to_string()),
        "environment variables"
    );
}

#[test]
fn query_protocol_action_is_read_from_the_body_only() {
    let g = grant(&["ec2"], None);
    // An Action in the query string of a form POST: which one would the service run?
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.query.push(("Action".into(), "TerminateInstances".into()));
    assert!(g.check(&r).is_err());
    // Two Actions in the body.
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.body.extend_from_slice(b"&Action=TerminateInstances");
    assert!(g.check(&r).is_err());
    // An escaped duplicate (Act%69on) decodes to the same key.
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.body.extend_from_slice(b"&Act%69on=TerminateInstances");
    assert!(g.check(&r).is_err());
    // A `;` separator some parsers honour.
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.body.extend_from_slice(b";Action=TerminateInstances");
    assert!(g.check(&r).is_err());
}

#[test]
fn bodies_the_gate_cannot_read_are_refused() {
    let g = grant(&["ec2", "iam"], None);
    // gzip: the issue's attack sent a compressed body behind a harmless query string.
    let mut r = query("iam", "ListUsers", "2010-05-08");
    r.headers.push(("Content-Encoding".into(), "gzip".into()));
    assert!(matches!(g.check(&r), Err(Refusal::Header { .. })));
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.body = vec![0x1f, 0x8b, 0x08, 0, 0xff, 0xfe];
    assert!(matches!(g.check(&r), Err(Refusal::Malformed { .. })));
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.body = b"Action=DescribeInstances&Version=2016-11-15&X=%ZZ".to_vec();
    assert!(g.check(&r).is_err());
}

#[test]
fn the_sent_request_is_rebuilt_by_the_host() {
    let g = grant(&["ec2"], None);
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.body = b"Version=2016-11-15&Filter.1.Name=tag%3AName&Action=DescribeInstances&MaxResults=5"
        .to_vec();
    r.headers = vec![("content-type".into(), "text/plain".into())];
    let c = g.check(&r).unwrap();
    assert_eq!(
        String::from_utf8(c.request.body).unwrap(),
        "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&MaxResults=5"
    );
    assert_eq!(
        c.request.headers,
        [(
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string()
        )]
    );
}

#[test]
fn framing_routing_and_authority_headers_are_the_hosts() {
    let g = grant(&["ec2"], None);
    for header in [
        "Authorization",
        "X-Amz-Security-Token",
        "x-amz-date",
        "Host",
        "Content-Length",
        "Transfer-Encoding",
        "Expect",
        "Connection",
        "User-Agent",
        "Referer",
        "X-Forwarded-For",
        "x-amz-target",
        "X-Custom",
    ] {
        let mut r = query("ec2", "DescribeInstances", "2016-11-15");
        r.headers.push((header.into(), "x".into()));
        assert!(
            matches!(g.check(&r), Err(Refusal::Header { .. })),
            "{header} was not refused"
        );
    }
}

#[test]
fn elb_versions_pick_the_api() {
    let g = grant(&["elasticloadbalancing"], None);
    let v2 = g.check(&query(
        "elasticloadbalancing",
        "DescribeTargetGroups",
        "2015-12-01",
    ));
    assert_eq!(op(v2), "elasticloadbalancing:DescribeTargetGroups");
    // DescribeTargetGroups is ELBv2 only.
    assert!(g
        .check(&query(
            "elasticloadbalancing",
            "DescribeTargetGroups",
            "2012-06-01"
        ))
        .is_err());
    assert!(g
        .check(&query(
            "elasticloadbalancing",
            "DescribeLoadBalancers",
            "1999-01-01"
        ))
        .is_err());
}

#[test]
fn s3_routes_follow_the_model() {
    let g = grant(&["s3"], Some(&["s3:List*", "s3:Get*"]));
    assert_eq!(op(g.check(&rest("s3", "GET", "/", &[]))), "s3:ListBuckets");
    assert_eq!(
        op(g.check(&rest("s3", "GET", "/b", &[("tagging", "")]))),
        "s3:GetBucketTagging"
    );
    assert_eq!(
        op(g.check(&rest("s3", "GET", "/b", &[("location", "")]))),
        "s3:GetBucketLocation"
    );
    assert_eq!(
        op(g.check(&rest("s3", "GET", "/b", &[("list-type", "2")]))),
        "s3:ListObjectsV2"
    );
    assert_eq!(
        op(g.check(&rest("s3", "GET", "/b", &[("prefix", "a")]))),
        "s3:ListObjects"
    );
    let c = g
        .check(&rest("s3", "GET", "/b", &[("tagging", "")]))
        .unwrap();
    assert_eq!(c.labels, [("Bucket", "b".to_string())]);
}

#[test]
fn s3_writes_cannot_hide_behind_a_read_name() {
    let g = grant(&["s3"], Some(&["s3:List*", "s3:Get*"]));
    // PUT /bucket/key?Action=GetObject is PutObject to S3.
    let r = rest("s3", "PUT", "/b/k", &[("Action", "GetObject")]);
    assert!(g.check(&r).is_err());
    // DELETE with a JSON target header is DeleteObject.
    let mut r = rest("s3", "DELETE", "/b/k", &[]);
    r.headers
        .push(("X-Amz-Target".into(), "AmazonS3.GetObject".into()));
    assert!(g.check(&r).is_err());
    let r = rest("s3", "DELETE", "/b/k", &[]);
    assert!(
        op(g.check(&r)).contains("DeleteObject"),
        "{}",
        op(g.check(&r))
    );
    // PUT /bucket?policy is PutBucketPolicy, whatever else the query says.
    let r = rest(
        "s3",
        "PUT",
        "/b",
        &[("policy", ""), ("Action", "GetBucketPolicy")],
    );
    assert!(g.check(&r).is_err());
    // GetObject is customer data: no wildcard reaches it.
    let err = g.check(&rest("s3", "GET", "/b/k", &[])).unwrap_err();
    assert!(err.to_string().contains("sensitive"), "{err}");
}

#[test]
fn rest_ambiguity_and_unknown_parameters_are_refused() {
    let g = grant(&["s3"], Some(&["s3:List*", "s3:Get*"]));
    // Two sub-resources: GetBucketTagging or GetBucketPolicy?
    let err = g
        .check(&rest("s3", "GET", "/b", &[("tagging", ""), ("policy", "")]))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Refusal::UnexpectedParameter { .. } | Refusal::Ambiguous { .. }
        ),
        "{err}"
    );
    let err = g
        .check(&rest("s3", "GET", "/b", &[("x-id", "PutObject")]))
        .unwrap_err();
    assert!(matches!(err, Refusal::UnexpectedParameter { .. }), "{err}");
    assert!(g
        .check(&rest(
            "s3",
            "GET",
            "/b",
            &[("prefix", "a"), ("prefix", "b")]
        ))
        .is_err());
    assert!(g.check(&rest("s3", "GET", "/b/../c", &[])).is_err());
    assert!(g.check(&rest("s3", "PATCH", "/b", &[])).is_err());
    assert!(g.check(&rest("s3", "get", "/", &[])).is_err());
    let mut r = rest("s3", "GET", "/b", &[("tagging", "")]);
    r.body = b"x".to_vec();
    assert!(g.check(&r).is_err(), "a GET with a body");
}

#[test]
fn lambda_rest_reads_by_default_and_trailing_slashes_are_one_route() {
    let g = grant(&["lambda"], Some(&["lambda:ListFunctions", "lambda:List*"]));
    let list = rest(
        "lambda",
        "GET",
        "/2015-03-31/functions",
        &[("MaxItems", "50")],
    );
    assert_eq!(op(g.check(&list)), "lambda:ListFunctions");
    let tags = rest(
        "lambda",
        "GET",
        "/2017-03-31/tags/arn:aws:lambda:us-west-2:1:function:f",
        &[],
    );
    assert_eq!(op(g.check(&tags)), "lambda:ListTags");
    let invoke = rest("lambda", "POST", "/2015-03-31/functions/f/invocations", &[]);
    assert!(g.check(&invoke).is_err());
}

#[test]
fn json_protocol_targets_are_checked_and_rewritten() {
    let g = grant(&["dynamodb"], None);
    let c = g
        .check(&json("dynamodb", "DynamoDB_20120810.ListTables", "{}"))
        .unwrap();
    assert_eq!(c.operation.to_string(), "dynamodb:ListTables");
    assert!(c
        .request
        .headers
        .contains(&("x-amz-target".into(), "DynamoDB_20120810.ListTables".into())));
    assert!(g
        .check(&json("dynamodb", "DynamoDB_20120810.DeleteTable", "{}"))
        .is_err());
    assert!(g
        .check(&json("dynamodb", "Other_1.ListTables", "{}"))
        .is_err());
    assert!(g
        .check(&json("dynamodb", "DynamoDB_20120810.ListTables", "[1]"))
        .is_err());
    let mut r = json("dynamodb", "DynamoDB_20120810.ListTables", "{}");
    r.headers.push((
        "x-amz-target".into(),
        "DynamoDB_20120810.DeleteTable".into(),
    ));
    assert!(g.check(&r).is_err(), "two targets");
    // Duplicate JSON keys are collapsed by re-serialization: the service sees one.
    let c = g
        .check(&json(
            "dynamodb",
            "DynamoDB_20120810.ListTables",
            r#"{"Limit":1,"Limit":2}"#,
        ))
        .unwrap();
    assert_eq!(c.request.body, br#"{"Limit":2}"#);
}

#[test]
fn undeclared_and_unknown_services_are_refused() {
    let g = grant(&["ec2"], None);
    assert!(matches!(
        g.check(&query("iam", "ListUsers", "2010-05-08")),
        Err(Refusal::UndeclaredService { .. })
    ));
    let spec = CapabilitySpec {
        services: vec!["not-a-service".into()],
        actions: None,
        methods: None,
    };
    assert!(Grant::new(&spec, CAPS).is_err());
}

#[test]
fn caps_bound_what_a_plugin_may_send() {
    let g = grant(&["s3"], Some(&["s3:List*"]));
    let long = format!("/{}", "a".repeat(3000));
    assert!(g.check(&rest("s3", "GET", &long, &[])).is_err());
    let big = "v".repeat(9000);
    assert!(g
        .check(&rest("s3", "GET", "/b", &[("prefix", &big)]))
        .is_err());
}

#[test]
fn foreign_arns_are_found_wherever_they_hide() {
    let own = "123456789012";
    let r = rest(
        "lambda",
        "GET",
        "/2017-03-31/tags/arn:aws:lambda:us-west-2:123456789012:function:f",
        &[],
    );
    assert_eq!(foreign_arn(&r, own), None);
    let r = rest(
        "lambda",
        "GET",
        "/2017-03-31/tags/arn:aws:lambda:us-west-2:999999999999:function:f",
        &[],
    );
    assert!(foreign_arn(&r, own).is_some());
    let mut r = query("ec2", "DescribeInstances", "2016-11-15");
    r.body
        .extend_from_slice(b"&X=arn%3Aaws%3Aiam%3A%3A999999999999%3Arole%2Fx");
    assert!(foreign_arn(&r, own).is_some());
    let r = rest(
        "s3",
        "GET",
        "/b",
        &[("prefix", "arn:aws:s3:::other-bucket")],
    );
    assert_eq!(foreign_arn(&r, own), None, "S3 ARNs name no account");
}

#[test]
fn refusal_texts_never_carry_control_characters() {
    let g = grant(&["s3"], Some(&["s3:List*"]));
    let err = g
        .check(&rest("s3", "GET", "/b", &[("\u{1b}]52;c;aGk=\u{7}", "")]))
        .unwrap_err();
    assert!(!err.to_string().chars().any(char::is_control), "{err:?}");
    assert_eq!(shown("a\u{1b}[2Kb"), "\"a\\u{1b}[2Kb\"");
}

#[test]
fn glob_matches_like_iam() {
    assert!(glob_match("describe*", "describeinstances"));
    assert!(glob_match("*instances", "describeinstances"));
    assert!(glob_match("de*be*es", "describeinstances"));
    assert!(!glob_match("describe*", "terminateinstances"));
    assert!(!glob_match("ab*ba", "aba"));
}
