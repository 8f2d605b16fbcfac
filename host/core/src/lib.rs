//! The words the host's crates share: what scanners find ([`resource`]), what a principal
//! may do ([`resource::Permissions`]), the lexical features of names ([`lexical`]), account
//! names ([`AccountName`]) and where cloudops keeps its files ([`paths`]). It sits below every
//! other host crate and pulls in nothing heavy.
#![deny(missing_docs)]

pub mod lexical;
pub mod paths;
pub mod resource;

/// An account the user can name in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName {
    /// 12-digit id.
    pub id: String,
    /// Name (profile or alias), e.g. `production`.
    pub name: String,
}
