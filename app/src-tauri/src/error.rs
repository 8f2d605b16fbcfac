//! The one error type of the app's commands, serialized as `{ kind, message }` so the
//! frontend can branch on `kind` and show `message` (which says what to do).

use serde::ser::SerializeStruct;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Nothing is synced yet, or the store / key / model is missing.
    #[error("{0}")]
    NoEstate(String),
    /// A sync or the demo is already running.
    #[error("{0}")]
    Busy(String),
    /// What was asked for does not exist (a resource, a plugin, a run).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong (an empty query, a bad path).
    #[error("{0}")]
    Invalid(String),
    /// Anything else the host reported.
    #[error("{0}")]
    Host(String),
}

impl CommandError {
    /// The `kind` the frontend branches on.
    pub fn kind(&self) -> &'static str {
        match self {
            CommandError::NoEstate(_) => "no_estate",
            CommandError::Busy(_) => "busy",
            CommandError::NotFound(_) => "not_found",
            CommandError::Invalid(_) => "invalid",
            CommandError::Host(_) => "host",
        }
    }

    /// A host error, with its whole chain of causes.
    pub fn host(e: impl std::fmt::Display) -> Self {
        CommandError::Host(e.to_string())
    }
}

impl serde::Serialize for CommandError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CommandError", 2)?;
        s.serialize_field("kind", self.kind())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

/// What every command returns.
pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_as_kind_and_message() {
        let e = CommandError::Busy("a sync is running: wait for it to finish".into());
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"kind": "busy", "message": "a sync is running: wait for it to finish"})
        );
    }
}
