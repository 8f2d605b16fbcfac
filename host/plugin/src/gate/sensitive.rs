//! What a scanner may never do, and what it may do only when granted by exact name.
//!
//! Three kinds of operation, decided here and nowhere else:
//! - **never**: the services that mint or exchange credentials, and every operation that is
//!   not a read. A scanner reads; writes happen only inside an approved plan.
//! - **sensitive** reads: they return credentials, tokens, secrets, decrypted values or
//!   customer data. A plugin gets one only by naming it exactly in `plugin.toml`; no
//!   wildcard and no default ever matches it, and `cloudops plugin trust` shows it with
//!   the reason below. The list names the well-known ones with a reason each; three rules
//!   catch the rest of each class (a name that speaks of secrets, a non-listing read whose
//!   output AWS's model marks sensitive, an output that is a data payload).
//! - everything else that reads configuration: `Describe*` and `List*` are the default
//!   grant, `Get*` and the other reads need a pattern or a name in `plugin.toml`.

use super::model::Model;

/// Services no plugin may call at all: each one's purpose is handing out credentials.
pub const NEVER_SERVICES: &[(&str, &str)] = &[
    ("sts", "issues temporary credentials and session tokens"),
    ("sso", "exchanges an SSO token for role credentials"),
    ("sso-oidc", "issues SSO access tokens"),
    ("signin", "issues console sign-in tokens"),
    (
        "cognito-identity",
        "issues AWS credentials for identity pools",
    ),
    ("portal.sso", "exchanges an SSO token for role credentials"),
];

/// Verbs that begin a read. Anything else (Create, Put, Stop, Invoke, Generate, ...) is a
/// write as far as a scanner is concerned.
const READ_VERBS: &[&str] = &[
    "Describe",
    "List",
    "Get",
    "Head",
    "BatchGet",
    "BatchDescribe",
    "Search",
    "Lookup",
    "Query",
    "Scan",
];

/// Words in an operation's name that mean it hands out something secret.
const SECRET_WORDS: &[&str] = &[
    "Secret",
    "Password",
    "Credential",
    "Token",
    "Decrypt",
    "DataKey",
    "PrivateKey",
    "AccessDetails",
    "Presigned",
    "SignedUrl",
    "SessionKey",
];

/// Sensitive reads, by `service:Operation`, each with why. The service is the endpoint
/// name requests are sent to (`api.ecr` for ECR), as in the operation table.
pub const SENSITIVE: &[(&str, &str)] = &[
    ("secretsmanager:GetSecretValue", "returns a secret's value"),
    (
        "secretsmanager:BatchGetSecretValue",
        "returns secrets' values",
    ),
    (
        "ssm:GetParameter",
        "returns parameters, decrypted when asked (WithDecryption)",
    ),
    (
        "ssm:GetParameters",
        "returns parameters, decrypted when asked (WithDecryption)",
    ),
    (
        "ssm:GetParametersByPath",
        "returns parameters, decrypted when asked (WithDecryption)",
    ),
    (
        "ssm:GetParameterHistory",
        "returns past parameter values, decrypted when asked",
    ),
    (
        "ssm:GetCommandInvocation",
        "returns the output of commands run on instances",
    ),
    (
        "kms:GetParametersForImport",
        "returns an import token for key material",
    ),
    (
        "api.ecr:GetAuthorizationToken",
        "returns a registry password",
    ),
    (
        "api.ecr-public:GetAuthorizationToken",
        "returns a registry password",
    ),
    (
        "api.ecr:BatchGetImage",
        "returns container image manifests (customer data)",
    ),
    (
        "api.ecr:GetDownloadUrlForLayer",
        "returns a URL that downloads image layers",
    ),
    (
        "codeartifact:GetAuthorizationToken",
        "returns a repository token",
    ),
    (
        "redshift:GetClusterCredentials",
        "returns a database password",
    ),
    (
        "redshift:GetClusterCredentialsWithIAM",
        "returns a database password",
    ),
    (
        "redshift-serverless:GetCredentials",
        "returns a database password",
    ),
    (
        "redshift-data:GetStatementResult",
        "returns query results (customer data)",
    ),
    (
        "lightsail:GetInstanceAccessDetails",
        "creates and returns an SSH key or password",
    ),
    (
        "lightsail:GetRelationalDatabaseMasterUserPassword",
        "returns a database password",
    ),
    (
        "s3:GetObject",
        "returns an object's contents (customer data)",
    ),
    (
        "s3:GetObjectTorrent",
        "returns an object's contents (customer data)",
    ),
    ("dynamodb:GetItem", "returns table items (customer data)"),
    (
        "dynamodb:BatchGetItem",
        "returns table items (customer data)",
    ),
    ("dynamodb:Query", "returns table items (customer data)"),
    ("dynamodb:Scan", "returns table items (customer data)"),
    (
        "lambda:GetFunction",
        "returns a URL that downloads the function's code",
    ),
    (
        "lambda:GetLayerVersion",
        "returns a URL that downloads the layer's code",
    ),
    (
        "lambda:GetLayerVersionByArn",
        "returns a URL that downloads the layer's code",
    ),
    (
        "lambda:ListFunctions",
        "returns each function's environment variables, which often hold secrets",
    ),
    (
        "lambda:ListVersionsByFunction",
        "returns each version's environment variables",
    ),
    (
        "lambda:GetFunctionConfiguration",
        "returns the function's environment variables",
    ),
    ("glue:GetConnection", "returns connection passwords"),
    // Environment variables and build settings: where secrets are most often pasted.
    (
        "ecs:DescribeTaskDefinition",
        "returns containers' environment variables",
    ),
    (
        "batch:DescribeJobDefinitions",
        "returns containers' environment variables",
    ),
    (
        "elasticbeanstalk:DescribeConfigurationSettings",
        "returns environment properties",
    ),
    (
        "codebuild:BatchGetProjects",
        "returns build environment variables",
    ),
    (
        "apprunner:DescribeService",
        "returns the service's environment variables",
    ),
    (
        "lightsail:GetContainerServices",
        "returns containers' environment variables",
    ),
    (
        "amplify:ListApps",
        "returns apps' environment variables and basic-auth credentials",
    ),
    ("glue:GetConnections", "returns connection passwords"),
    (
        "ec2:GetPasswordData",
        "returns an instance's encrypted Windows password",
    ),
    (
        "ec2:GetConsoleOutput",
        "returns an instance's console output, which can hold secrets",
    ),
    (
        "ec2:GetConsoleScreenshot",
        "returns a screenshot of an instance's console",
    ),
    (
        "ec2:GetLaunchTemplateData",
        "returns user data, which often holds secrets",
    ),
    (
        "ec2:DescribeLaunchTemplateVersions",
        "returns user data, which often holds secrets",
    ),
    (
        "ec2:DescribeInstanceAttribute",
        "returns user data when asked for it",
    ),
    (
        "ec2:DescribeVpnConnections",
        "returns VPN pre-shared keys in the gateway configuration",
    ),
    (
        "ec2:GetVpnConnectionDeviceSampleConfiguration",
        "returns VPN pre-shared keys",
    ),
    (
        "directconnect:DescribeVirtualInterfaces",
        "returns BGP authentication keys",
    ),
    ("logs:GetLogEvents", "returns log contents (customer data)"),
    ("logs:GetLogRecord", "returns log contents (customer data)"),
    (
        "logs:GetQueryResults",
        "returns log contents (customer data)",
    ),
    (
        "athena:GetQueryResults",
        "returns query results (customer data)",
    ),
    (
        "kinesis:GetRecords",
        "returns stream records (customer data)",
    ),
    (
        "apigateway:GetApiKey",
        "returns the key's value when asked (includeValue)",
    ),
    (
        "apigateway:GetApiKeys",
        "returns the keys' values when asked (includeValues)",
    ),
    (
        "apigateway:GetExport",
        "returns an API's definition, with its authorizers' settings",
    ),
    ("appsync:ListApiKeys", "returns API keys"),
    (
        "codecommit:GetBlob",
        "returns repository contents (customer data)",
    ),
    (
        "codecommit:GetFile",
        "returns repository contents (customer data)",
    ),
    (
        "iam:GetCredentialReport",
        "returns every user's credential status",
    ),
    (
        "elasticmapreduce:GetClusterSessionCredentials",
        "returns cluster credentials",
    ),
    (
        "iot:GetRegistrationCode",
        "returns the account's CA registration code",
    ),
    (
        "cognito-idp:ListUsers",
        "returns users' attributes (personal data)",
    ),
];

/// Why `service:op` is sensitive, or `None` when it returns configuration only.
pub fn sensitive_reason(service: &str, op: &str) -> Option<&'static str> {
    let qualified = format!("{service}:{op}");
    if let Some((_, why)) = SENSITIVE.iter().find(|(name, _)| *name == qualified) {
        return Some(why);
    }
    if SECRET_WORDS.iter().any(|w| op.contains(w)) {
        return Some("its name says it returns secrets, tokens or credentials");
    }
    let def = Model::get().ops_named(service, op).next()?;
    if def.payload_output {
        return Some("it returns a data payload (customer data)");
    }
    let listing = op.starts_with("Describe") || op.starts_with("List");
    if def.sensitive_output && !listing {
        return Some("AWS's API model marks part of its answer sensitive");
    }
    None
}

/// True when `op` reads (by its verb); every other operation is a write.
pub fn is_read(op: &str) -> bool {
    READ_VERBS.iter().any(|verb| {
        op.strip_prefix(verb).is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_ascii_uppercase()) || rest.is_empty()
        })
    })
}

/// Why `service` may never be called by a plugin, if it may not.
pub fn never_service(service: &str) -> Option<&'static str> {
    NEVER_SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, why)| *why)
}

/// True for the operations a plugin gets without asking: listings of configuration.
pub fn is_default_read(op: &str) -> bool {
    is_read(op) && (op.starts_with("Describe") || op.starts_with("List"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(service: &str, op: &str) -> Option<&'static str> {
        sensitive_reason(service, op)
    }

    #[test]
    fn every_listed_operation_exists_and_reads() {
        // A renamed or misspelt entry would protect nothing: the list is checked against
        // the operation table.
        for (qualified, why) in SENSITIVE {
            let (service, op) = qualified.split_once(':').unwrap();
            assert!(
                Model::get().ops_named(service, op).next().is_some(),
                "{qualified} is not an operation the table knows"
            );
            assert!(is_read(op), "{qualified} is not a read: it needs no entry");
            assert!(!why.is_empty());
        }
    }

    #[test]
    fn classes_are_caught_without_a_list_entry() {
        assert!(reason("secretsmanager", "GetSecretValue").is_some());
        // Not listed, caught by name:
        assert!(reason("redshift-serverless", "GetCredentials").is_some());
        assert!(reason("secretsmanager", "ListSecrets").is_some());
        // Not listed, caught by AWS's model:
        assert!(reason("s3", "GetObjectTorrent").is_some());
        assert!(reason("glacier", "GetJobOutput").is_some());
        // Configuration reads are not sensitive.
        assert_eq!(reason("ec2", "DescribeInstances"), None);
        assert_eq!(reason("rds", "DescribeDBInstances"), None);
        assert_eq!(reason("s3", "GetBucketTagging"), None);
    }

    #[test]
    fn reads_are_told_from_writes_by_their_verb() {
        for read in [
            "DescribeInstances",
            "ListBuckets",
            "GetBucketTagging",
            "HeadBucket",
        ] {
            assert!(is_read(read), "{read}");
        }
        for write in [
            "TerminateInstances",
            "PutObject",
            "CreateAccessKey",
            "GenerateDataKey",
            "Listen",
            "Getaway",
            "DeleteBucket",
        ] {
            assert!(!is_read(write), "{write}");
        }
    }

    #[test]
    fn credential_services_are_never_plugin_services() {
        for s in ["sts", "sso", "cognito-identity"] {
            assert!(never_service(s).is_some(), "{s}");
        }
        assert_eq!(never_service("ec2"), None);
    }
}
