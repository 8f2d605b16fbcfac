//! Chat history: prompts, plans and outcomes in the store's chat history collection, sealed
//! like the estate (AES-256-GCM with the estate key, the point id as associated data).
//!
//! Only `session` and `at` stay plain (they are what the collection filters and orders by);
//! the turn itself is sealed. Turns are not searched by meaning yet, so each point carries a
//! fixed unit vector instead of an embedding: nothing of the text leaks through its vector.

use cloudops_estate::store::seal::Sealer;
use cloudops_estate::store::{Collection, EstateStore, Filter, Point, DENSE_DIM};
use cloudops_playbook::plan::ChatTurn;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::AskError;

/// Turns sent to the planner as `recent_chat`.
pub const RECENT: usize = 6;

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// The conversation (`cli` for the command line; the app names its chats).
    pub session: String,
    /// When (Unix milliseconds).
    pub at: u64,
    /// `user` or `assistant`.
    pub role: String,
    /// What was said: the prompt, or the plan's explanation, or the run's outcome.
    pub text: String,
    /// The plan the turn made or ran, if any.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// The run it started, if any.
    #[serde(default)]
    pub run_id: Option<String>,
}

impl Turn {
    /// A turn said now.
    pub fn now(session: &str, role: &str, text: impl Into<String>) -> Turn {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Turn {
            session: session.to_owned(),
            at,
            role: role.to_owned(),
            text: text.into(),
            plan_id: None,
            run_id: None,
        }
    }

    /// The turn as the plan request carries it.
    pub fn chat(&self) -> ChatTurn {
        ChatTurn {
            role: self.role.clone(),
            text: self.text.clone(),
        }
    }
}

/// The placeholder vector every turn carries.
fn placeholder() -> Vec<f32> {
    let mut v = vec![0.0; DENSE_DIM];
    v[0] = 1.0;
    v
}

/// Writes `turns` (sealed) into the store's chat history.
pub fn append(store: &dyn EstateStore, sealer: &Sealer, turns: &[Turn]) -> Result<(), AskError> {
    let points = turns
        .iter()
        .map(|turn| {
            let id = Uuid::new_v4();
            let text = serde_json::to_vec(turn).expect("a turn is always JSON");
            let mut payload = Map::new();
            payload.insert("session".into(), json!(turn.session));
            payload.insert("at".into(), json!(turn.at));
            payload.insert(
                "sealed".into(),
                Value::String(sealer.seal(&text, id.as_bytes())),
            );
            Point {
                id,
                dense: placeholder(),
                lexical: Default::default(),
                payload,
            }
        })
        .collect();
    store
        .upsert(Collection::ChatHistory, points)
        .map_err(|e| AskError::Estate(format!("saving the chat history: {e}")))
}

/// The last `limit` turns (of `session`, or of every session), oldest first.
pub fn recent(
    store: &dyn EstateStore,
    sealer: &Sealer,
    session: Option<&str>,
    limit: usize,
) -> Result<Vec<Turn>, AskError> {
    let filter = match session {
        Some(s) => Filter::all().eq("session", s),
        None => Filter::all(),
    };
    let points = store
        .scan(Collection::ChatHistory, &filter)
        .map_err(|e| AskError::Estate(format!("reading the chat history: {e}")))?;
    let mut turns = Vec::with_capacity(points.len());
    for point in points {
        let Some(Value::String(sealed)) = point.payload.get("sealed") else {
            continue;
        };
        let plain = sealer.open(sealed, point.id.as_bytes()).map_err(|e| {
            AskError::Estate(format!(
                "a chat history entry cannot be unsealed ({e}): was the estate key replaced?"
            ))
        })?;
        if let Ok(turn) = serde_json::from_slice::<Turn>(&plain) {
            turns.push(turn);
        }
    }
    turns.sort_by_key(|t| t.at);
    let skip = turns.len().saturating_sub(limit);
    Ok(turns.split_off(skip))
}
