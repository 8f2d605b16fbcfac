//! Playbook metadata for `GET /v1/playbooks` and `GET /v1/playbooks/{id}`: in Redis when
//! `REDIS_URL` is set (so that every replica and other tools read the same catalogue), in
//! process otherwise.
//!
//! Redis layout, written once per commit on load, before the commit is served:
//! - `cloudops:playbooks:<commit>`: a hash, playbook id → its [`PlaybookSummary`] JSON;
//! - `cloudops:playbooks:current`: the commit last loaded by any server.
//!
//! A hash that vanished (Redis restarted without persistence, or the key expired while the
//! commit was still served) is written again from the served library on the next read.
//!
//! Each server reads the hash of the commit *it* serves, so its catalogue and its plans never
//! disagree, even while replicas reload at different moments. When Redis is unreachable at
//! request time, the two endpoints answer 503 with the reason rather than falling back to the
//! process's copy: a fallback would hide a broken deployment that other readers of the same
//! Redis also suffer from. Plans do not use Redis and keep working.

use std::collections::BTreeMap;
use std::time::Duration;

use cloudops_playbook::model::{Field, ParamSource, ValueKind};
use cloudops_playbook::Playbook;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A commit's hash is kept this long after it was written (a week): long enough for any
/// replica still serving it, short enough that Redis does not fill with old commits.
const COMMIT_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// What `GET /v1/playbooks` lists about one playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookSummary {
    /// `rds.stop-instance`.
    pub id: String,
    /// Its version.
    pub version: String,
    /// One line.
    pub title: String,
    /// What it does.
    pub description: String,
    /// AWS service (IAM prefix).
    pub service: String,
    /// Operation (`stop`).
    pub operation: String,
    /// Resource types it acts on.
    pub applies_to: Vec<String>,
    /// Its parameters: name, description, and where the value comes from.
    pub parameters: Vec<Value>,
    /// The base risk level (rules may raise it for a given resource).
    pub risk: String,
    /// The IAM actions its steps need.
    pub actions: Vec<String>,
    /// The playbook that undoes it.
    pub inverse: Option<String>,
    /// The library commit it was read from.
    pub commit: String,
}

impl PlaybookSummary {
    /// The summary of `playbook` at `commit`.
    pub fn of(playbook: &Playbook, commit: &str) -> PlaybookSummary {
        PlaybookSummary {
            id: playbook.id.clone(),
            version: playbook.version.to_string(),
            title: playbook.title.clone(),
            description: playbook.description.trim().to_owned(),
            service: playbook.service.clone(),
            operation: playbook.operation.clone(),
            applies_to: playbook.applies_to.clone(),
            parameters: playbook.parameters.iter().map(parameter).collect(),
            risk: playbook.risk.level.as_str().to_owned(),
            actions: playbook.actions(),
            inverse: playbook.inverse.clone(),
            commit: commit.to_owned(),
        }
    }
}

fn parameter(p: &cloudops_playbook::model::Parameter) -> Value {
    match &p.source {
        ParamSource::Resource(field) => json!({
            "name": p.name, "description": p.description, "from": field_path(field),
        }),
        ParamSource::User(user) => {
            let kind = match &user.kind {
                ValueKind::Integer { min, max } => {
                    json!({"type": "integer", "min": min, "max": max})
                }
                ValueKind::String { max_length } => {
                    json!({"type": "string", "max_length": max_length})
                }
                ValueKind::Boolean => json!({"type": "boolean"}),
                ValueKind::Enum(values) => json!({"type": "enum", "values": values}),
            };
            json!({
                "name": p.name, "description": p.description, "from": "user",
                "value": kind, "unit": user.unit, "default": user.default,
            })
        }
    }
}

/// A field as playbooks write it (`identifier`, `tags.env`, `metadata.engine`).
fn field_path(field: &Field) -> String {
    match field {
        Field::Identifier => "identifier".into(),
        Field::Arn => "arn".into(),
        Field::Name => "name".into(),
        Field::Region => "region".into(),
        Field::Account => "account".into(),
        Field::Type => "type".into(),
        Field::State => "state".into(),
        Field::Tag(key) => format!("tags.{key}"),
        Field::Metadata(keys) => format!("metadata.{}", keys.join(".")),
        Field::Constraint(name) => format!("constraints.{name}"),
        Field::Param(name) => format!("params.{name}"),
    }
}

/// Why metadata could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// Redis did not answer or refused.
    #[error("playbook metadata in Redis at {url} is unavailable ({source}); start Redis or unset REDIS_URL to keep it in process (plans are not affected)")]
    Redis {
        /// The URL without its password.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// A stored entry is not a summary (another writer, another version).
    #[error("playbook metadata `{key}` in Redis is not a playbook summary ({message}); delete the key and reload")]
    Corrupt {
        /// The key.
        key: String,
        /// Why it does not parse.
        message: String,
    },
}

/// Where summaries live.
#[derive(Clone)]
pub enum MetaStore {
    /// In this process, with the served library.
    InProcess,
    /// In Redis.
    Redis {
        /// Reconnects by itself after Redis comes back.
        connection: ConnectionManager,
        /// For messages, password removed.
        url: String,
    },
}

/// `redis://user:password@host` with the password hidden.
pub fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) if at > scheme.len() => {
            let userinfo = &url[scheme.len() + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let host = &url[at + 1..];
            let _ = rest;
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

impl MetaStore {
    /// Connects to Redis at `url` (one answer within 2 s, or the error).
    pub async fn redis(url: &str) -> Result<MetaStore, MetaError> {
        let shown = redact(url);
        let failed = |source| MetaError::Redis {
            url: shown.clone(),
            source,
        };
        let client = redis::Client::open(url).map_err(failed)?;
        // Short timeouts: a request waits at most this long before its 503.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(failed)?;
        Ok(MetaStore::Redis {
            connection,
            url: shown,
        })
    }

    /// `redis` or `in-process`, for `/healthz`.
    pub fn kind(&self) -> &'static str {
        match self {
            MetaStore::InProcess => "in-process",
            MetaStore::Redis { .. } => "redis",
        }
    }

    /// The hash that holds `commit`'s summaries.
    pub fn key(commit: &str) -> String {
        format!("cloudops:playbooks:{commit}")
    }

    /// Writes `commit`'s summaries and marks it current. In process: nothing to do (the
    /// served library holds them).
    pub async fn publish(
        &self,
        commit: &str,
        summaries: &[PlaybookSummary],
    ) -> Result<(), MetaError> {
        self.write(commit, summaries, true).await
    }

    async fn write(
        &self,
        commit: &str,
        summaries: &[PlaybookSummary],
        current: bool,
    ) -> Result<(), MetaError> {
        let MetaStore::Redis { connection, url } = self else {
            return Ok(());
        };
        let key = MetaStore::key(commit);
        let entries: Vec<(String, String)> = summaries
            .iter()
            .map(|s| {
                let json = serde_json::to_string(s).expect("a summary is JSON");
                (s.id.clone(), json)
            })
            .collect();
        let mut pipe = redis::pipe();
        pipe.atomic().del(&key).ignore();
        if !entries.is_empty() {
            pipe.hset_multiple(&key, &entries).ignore();
        }
        pipe.expire(&key, COMMIT_TTL_SECONDS).ignore();
        if current {
            pipe.set("cloudops:playbooks:current", commit).ignore();
        }
        let mut connection = connection.clone();
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(|source| MetaError::Redis {
                url: url.clone(),
                source,
            })
    }

    /// Writes the served commit's catalogue again when Redis lost it (restarted without
    /// persistence, flushed, or the commit was served longer than the key lives).
    async fn restore(
        &self,
        commit: &str,
        local: &BTreeMap<String, PlaybookSummary>,
    ) -> Result<(), MetaError> {
        tracing::warn!(
            commit = %commit,
            "the catalogue of the served commit is gone from Redis: writing it again"
        );
        let summaries: Vec<PlaybookSummary> = local.values().cloned().collect();
        self.write(commit, &summaries, false).await
    }

    /// Every summary of `commit` by id; `local` answers in process.
    pub async fn list(
        &self,
        commit: &str,
        local: &BTreeMap<String, PlaybookSummary>,
    ) -> Result<Vec<PlaybookSummary>, MetaError> {
        let MetaStore::Redis { connection, url } = self else {
            return Ok(local.values().cloned().collect());
        };
        let key = MetaStore::key(commit);
        let mut connection = connection.clone();
        let all: BTreeMap<String, String> =
            connection
                .hgetall(&key)
                .await
                .map_err(|source| MetaError::Redis {
                    url: url.clone(),
                    source,
                })?;
        if all.is_empty() && !local.is_empty() {
            self.restore(commit, local).await?;
            return Ok(local.values().cloned().collect());
        }
        all.into_iter()
            .map(|(id, text)| parse(&format!("{key} {id}"), &text))
            .collect()
    }

    /// One summary of `commit`, `None` when there is no such playbook.
    pub async fn get(
        &self,
        commit: &str,
        id: &str,
        local: &BTreeMap<String, PlaybookSummary>,
    ) -> Result<Option<PlaybookSummary>, MetaError> {
        let MetaStore::Redis { connection, url } = self else {
            return Ok(local.get(id).cloned());
        };
        let key = MetaStore::key(commit);
        let mut connection = connection.clone();
        let text: Option<String> =
            connection
                .hget(&key, id)
                .await
                .map_err(|source| MetaError::Redis {
                    url: url.clone(),
                    source,
                })?;
        if text.is_none() && local.contains_key(id) {
            let exists: bool =
                connection
                    .exists(&key)
                    .await
                    .map_err(|source| MetaError::Redis {
                        url: url.clone(),
                        source,
                    })?;
            if !exists {
                self.restore(commit, local).await?;
                return Ok(local.get(id).cloned());
            }
        }
        text.map(|t| parse(&format!("{key} {id}"), &t)).transpose()
    }
}

fn parse(key: &str, text: &str) -> Result<PlaybookSummary, MetaError> {
    serde_json::from_str(text).map_err(|e| MetaError::Corrupt {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("redis://:hunter2@10.0.0.1:6379/0"),
            "redis://:***@10.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://bob:pw@h:1"), "redis://bob:***@h:1");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
