//! Talking to AWS: credentials, endpoints, SigV4 signing and HTTP.
//!
//! Everything that touches a secret lives here. Plugins describe requests as
//! [`AwsRequest`]s; [`AwsClient::send`] picks the endpoint, signs and sends them. The host's
//! own STS and IAM calls ([`iam`]) use the AWS SDK's clients, set up from an [`AwsClient`]
//! (its credentials, endpoints, transport, retry policy, rate limits and statistics).

#![deny(missing_docs)]

mod client;
mod credentials;
mod endpoint;
pub mod iam;
pub mod regions;
mod retry;
mod sdk;
mod signing;
mod transport;
pub mod xml;

pub use client::{aws_encode, AwsClient, AwsRequest, AwsResponse, QueryError, SendError};
pub use credentials::{
    default_region, delete_keys_from_keyring, keyring_entry_name, load_credentials,
    store_keys_in_keyring, CredentialsError, StoredKeys,
};
pub use endpoint::{EndpointError, Endpoints};
pub use retry::{RateLimiter, RequestStats, RetryPolicy, Retryable, StatsSnapshot};
pub use transport::{HttpTransport, RawResponse, SendFuture, Transport, TransportError};

pub use aws_credential_types::Credentials;

/// AWS's documented example access key id (its docs use it everywhere). AWS refuses it;
/// emulators such as moto accept it, so the demo and a kept demo's config sign with it.
pub const EXAMPLE_ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// The secret access key that goes with [`EXAMPLE_ACCESS_KEY`] in AWS's documentation.
pub const EXAMPLE_SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
