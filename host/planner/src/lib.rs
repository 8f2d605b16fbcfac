//! The planner: from a prompt and the resources the host identified to a plan.
//!
//! 1. **Classification** ([`intent`]): a question or a search gets no plan, and says so.
//! 2. **Retrieval** (`index`): the prompt, with the identified resources' names replaced by
//!    their type, is embedded with the estate's model and compared with every playbook's
//!    texts in a Qdrant index (the store's `playbooks` collection: embedded by default, a
//!    Qdrant server when configured), among playbooks that apply to the identified types.
//!    Word evidence weighs in ([`words`]: the IDF-weighted share of the prompt's words a
//!    playbook uses), and a playbook whose keywords (`stop`, `shut down`) appear in the prompt
//!    gains a bonus: sentence embeddings place "stop the db" and "start the db", or "turn off
//!    Multi-AZ" and "turn on Multi-AZ", close together; the rare words tell them apart.
//! 3. **Planning** ([`cloudops_playbook::planning`]): parameters from the resources and the
//!    user's values only, preconditions, IAM verdicts, risk, explanation.
//!
//! The same planner serves `cloudops-server` and the host's in-process planning. It holds
//! no credentials and keeps nothing of a request.

mod batch;
pub mod eval;
mod index;
pub mod intent;
mod words;

use std::sync::Arc;

use cloudops_estate::embed::{EmbedError, Embedder};
use cloudops_estate::store::{self, EstateStore, Location, StoreError};
use cloudops_playbook::plan::{Candidate, Clarify, Intent, IntentKind, Plan, PlanRequest};
use cloudops_playbook::planning::{self, Selection};
use cloudops_playbook::{Library, Playbook, ResourceContext};

/// A prompt whose best playbook is less similar than this, with no keyword of it, is not an
/// operation the library knows.
pub const MIN_SIMILARITY: f32 = 0.45;

/// Added to a playbook's similarity when one of its keywords is in the prompt.
pub const KEYWORD_BONUS: f32 = 0.2;

/// Weight of the word evidence ([`words`]: the IDF-weighted share of the prompt's words the
/// playbook uses) against the embedding's cosine similarity. It and [`KEYWORD_BONUS`] were
/// chosen on `eval/dev.jsonl` alone (a flat optimum: 0.5–1.5 and 0.1–0.3 all score within
/// two cases); `eval/holdout.jsonl` was never used to choose.
pub const WORDS_WEIGHT: f32 = 1.0;

/// A prompt that shares less than this share of its word weight with its best playbook, and
/// is also too unlike it by meaning, is not an operation the library knows.
pub const MIN_WORDS: f32 = 0.5;

/// Prompt vectors kept, by retrieval text. With names replaced by types, prompts repeat
/// ("stop rds instance"), so most requests skip the model: it is the planner's cost.
pub const QUERY_CACHE: usize = 4096;

/// Two playbooks closer than this, neither named by a keyword, make the planner ask.
pub const AMBIGUITY_MARGIN: f32 = 0.015;

/// Why planning failed (as opposed to a plan that says no).
#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    /// The embedding model failed.
    #[error("embedding the playbooks or the prompt failed: {0}")]
    Embed(#[source] EmbedError),
    /// The playbook index failed.
    #[error("the playbook index failed: {0}")]
    Index(#[source] StoreError),
}

/// A library, indexed, ready to plan. `Send + Sync`; every method blocks (embedding, the
/// index), so async callers use `spawn_blocking`.
pub struct Planner {
    library: Library,
    commit: String,
    location: Location,
    store: Arc<dyn EstateStore>,
    vectors: index::VectorCache,
    /// The commit of the planner this one replaced: its points go at the next build.
    replaced: Option<String>,
    /// The library's words and their weights.
    words: words::Words,
    /// Prompts are embedded in batches under load, shared along the chain of planners.
    prompts: Arc<batch::QueryEmbedder>,
    /// Recent prompt vectors by retrieval text, shared along the chain of planners.
    queries: Arc<quick_cache::sync::Cache<String, Arc<Vec<f32>>>>,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("commit", &self.commit)
            .field("playbooks", &self.library.len())
            .field("index", &self.location)
            .finish()
    }
}

impl Planner {
    /// Embeds and indexes the library's playbooks at `index` (an embedded store directory,
    /// created when missing, or a Qdrant server). `previous`, a planner over the same index,
    /// lends its open index and the vectors of texts that did not change; its points stay
    /// until the next build, so it can serve until this one replaces it. Points of commits
    /// this chain of planners never served are left alone.
    pub fn build(
        library: Library,
        commit: String,
        embedder: Arc<Embedder>,
        index: &Location,
        previous: Option<&Planner>,
    ) -> Result<Planner, PlannerError> {
        Self::build_reusing(library, commit, embedder, index, previous, None)
    }

    /// [`Planner::build`], reusing the text vectors a planner saved at `vectors`
    /// ([`Planner::save_vectors`]) when the file is there and readable: a short-lived process
    /// (`cloudops ask`) then embeds only texts that changed instead of the whole library.
    pub fn build_with_saved_vectors(
        library: Library,
        commit: String,
        embedder: Arc<Embedder>,
        index: &Location,
        vectors: &std::path::Path,
    ) -> Result<Planner, PlannerError> {
        let saved = index::load_vectors(vectors);
        Self::build_reusing(library, commit, embedder, index, None, Some(&saved))
    }

    /// Writes the library's text vectors to `path` (JSON, by rename) for
    /// [`Planner::build_with_saved_vectors`].
    pub fn save_vectors(&self, path: &std::path::Path) -> std::io::Result<()> {
        index::save_vectors(&self.vectors, path)
    }

    fn build_reusing(
        library: Library,
        commit: String,
        embedder: Arc<Embedder>,
        index: &Location,
        previous: Option<&Planner>,
        saved: Option<&index::VectorCache>,
    ) -> Result<Planner, PlannerError> {
        let previous = previous.filter(|p| p.location == *index);
        let store: Arc<dyn EstateStore> = match previous {
            Some(p) => p.store.clone(),
            None => Arc::from(store::open(index).map_err(PlannerError::Index)?),
        };
        let empty = index::VectorCache::new();
        let known = previous.map(|p| &p.vectors).or(saved).unwrap_or(&empty);
        let vectors = index::embed_library(&library, &embedder, known)?;
        index::write(store.as_ref(), &library, &commit, &vectors)?;
        // Only the commit this chain of planners stopped serving two builds ago goes: the
        // previous one may still be answering, and other servers sharing a Qdrant server may
        // serve other commits.
        if let Some(old) = previous.and_then(|p| p.replaced.as_deref()) {
            if old != commit && previous.is_some_and(|p| p.commit != old) {
                index::retire(store.as_ref(), old)?;
            }
        }
        let replaced = previous.map(|p| p.commit.clone()).filter(|c| *c != commit);
        tracing::info!(commit = %commit, playbooks = library.len(), "playbook library indexed");
        let words = words::Words::new(&library);
        let prompts = previous.map_or_else(
            || Arc::new(batch::QueryEmbedder::new(embedder.clone())),
            |p| p.prompts.clone(),
        );
        Ok(Planner {
            prompts,
            words,
            library,
            commit,
            location: index.clone(),
            store,
            vectors,
            replaced,
            queries: previous.map_or_else(
                || Arc::new(quick_cache::sync::Cache::new(QUERY_CACHE)),
                |p| p.queries.clone(),
            ),
        })
    }

    /// The library.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// The library's commit.
    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// The plan for a request.
    pub fn plan(&self, request: &PlanRequest) -> Result<Plan, PlannerError> {
        let kind = intent::classify(&request.prompt);
        if kind != IntentKind::Operation {
            return Ok(not_an_operation(kind));
        }
        let ranked = self.rank(request)?;
        let Some(best) = ranked.first() else {
            return Ok(not_an_operation(IntentKind::Search));
        };
        if best.similarity < MIN_SIMILARITY && best.words < MIN_WORDS && !best.keyword {
            return Ok(not_an_operation(IntentKind::Search));
        }
        if let Some(second) = ranked.get(1) {
            if !best.keyword && !second.keyword && best.score - second.score < AMBIGUITY_MARGIN {
                return Ok(self.ask_which(&ranked[..2]));
            }
        }
        let playbook = best.playbook;
        let targets: Vec<ResourceContext> = request
            .identified_resources
            .iter()
            .filter(|r| playbook.applies_to.contains(&r.resource_type))
            .cloned()
            .collect();
        Ok(planning::plan(
            playbook,
            Selection {
                commit: &self.commit,
                prompt: &request.prompt,
                targets: &targets,
                user_values: &request.user_values,
            },
        ))
    }

    /// Every playbook for the identified types with its scores, best first: why the planner
    /// chose what it chose (for playbook authors and the evaluation).
    pub fn ranking(&self, request: &PlanRequest) -> Result<Vec<Ranked<'_>>, PlannerError> {
        self.rank(request)
    }

    /// Playbooks for the request, best first.
    fn rank(&self, request: &PlanRequest) -> Result<Vec<Ranked<'_>>, PlannerError> {
        let mut types: Vec<String> = request
            .identified_resources
            .iter()
            .map(|r| r.resource_type.clone())
            .collect();
        types.sort();
        types.dedup();
        let text = retrieval_text(&request.prompt, &request.identified_resources);
        let key = prompt_key(&text);
        let vector = match self.queries.get(&key) {
            Some(v) => v,
            None => {
                let v = Arc::new(self.prompts.embed(&key).map_err(PlannerError::Embed)?);
                self.queries.insert(key, v.clone());
                v
            }
        };
        let hits = index::search(self.store.as_ref(), &self.commit, &vector, &types, 256)?;
        let prompt = intent::normalize(&request.prompt);
        let terms = words::terms(&text);
        let mut ranked: Vec<Ranked<'_>> = self
            .library
            .playbooks()
            .filter(|p| types.is_empty() || p.applies_to.iter().any(|t| types.contains(t)))
            .map(|playbook| {
                let similarity = hits
                    .iter()
                    .find(|(id, _)| *id == playbook.id)
                    .map_or(0.0, |(_, s)| *s);
                let words = self.words.score(&terms, &playbook.id);
                let keyword = playbook
                    .keywords
                    .iter()
                    .chain(std::iter::once(&playbook.operation))
                    .any(|k| intent::has_phrase(&prompt, k));
                let bonus = if keyword { KEYWORD_BONUS } else { 0.0 };
                let score = similarity + WORDS_WEIGHT * words + bonus;
                Ranked {
                    playbook,
                    score,
                    similarity,
                    words,
                    keyword,
                }
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.playbook.id.cmp(&b.playbook.id))
        });
        Ok(ranked)
    }

    fn ask_which(&self, ranked: &[Ranked<'_>]) -> Plan {
        let mut plan = Plan::nothing(
            Intent {
                kind: IntentKind::Operation,
                service: None,
                operation: None,
            },
            format!(
                "Two playbooks fit equally well: {}. Say which one you mean.",
                ranked
                    .iter()
                    .map(|r| r.playbook.title.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        );
        plan.clarify = Some(Clarify {
            question: "Which of these did you mean?".into(),
            missing: vec!["playbook".into()],
            candidates: ranked
                .iter()
                .map(|r| Candidate {
                    id: r.playbook.id.clone(),
                    label: r.playbook.title.clone(),
                })
                .collect(),
        });
        plan.sealed()
    }
}

/// One playbook's standing for a request, as [`Planner::ranking`] reports it.
#[derive(Debug, Clone, Copy)]
pub struct Ranked<'a> {
    /// The playbook.
    pub playbook: &'a Playbook,
    /// The combined score (higher is better).
    pub score: f32,
    /// Best cosine similarity of the prompt to the playbook's texts.
    pub similarity: f32,
    /// The share of the prompt's word weight the playbook uses.
    pub words: f32,
    /// A keyword of the playbook is in the prompt.
    pub keyword: bool,
}

/// The prompt with each identified resource's name and identifier replaced by its type in
/// words ("stop pg-main1" reads "stop rds instance"): names say which resource, which the
/// host already resolved, and would only blur which operation.
pub fn retrieval_text(prompt: &str, resources: &[ResourceContext]) -> String {
    let mut names: Vec<(&str, String)> = Vec::new();
    for r in resources {
        let words = r.resource_type.replace('_', " ");
        names.push((r.identifier.as_str(), words.clone()));
        names.push((r.name.as_str(), words));
    }
    // Longest first, so `web-01-a` is replaced before `web-01`.
    names.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    let mut text = prompt.to_owned();
    for (name, words) in names {
        if name.len() >= 3 {
            text = replace_ignore_case(&text, name, &words);
        }
    }
    text
}

/// The text the model embeds for a retrieval text, and the prompt cache's key: lower case,
/// words joined by single spaces. The model's tokenizer lowercases and splits on whitespace
/// itself, so this changes no vector, and "Stop  RDS instance" shares "stop rds instance"'s
/// cache entry.
pub fn prompt_key(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn replace_ignore_case(text: &str, needle: &str, with: &str) -> String {
    let lower = text.to_lowercase();
    let needle = needle.to_lowercase();
    if lower.len() != text.len() {
        return text.to_owned(); // case folding changed lengths: leave it as typed
    }
    let mut out = String::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&needle) {
        out.push_str(&text[from..from + at]);
        out.push_str(with);
        from += at + needle.len();
    }
    out.push_str(&text[from..]);
    out
}

fn not_an_operation(kind: IntentKind) -> Plan {
    let explain = match kind {
        IntentKind::Question => "This is a question, not an operation: there is nothing to plan. `cloudops search` answers questions about your resources.",
        _ => "This reads as a search, not an operation the playbook library knows: there is nothing to plan. `cloudops search` finds resources.",
    };
    Plan::nothing(
        Intent {
            kind,
            service: None,
            operation: None,
        },
        explain,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(id: &str, kind: &str) -> ResourceContext {
        serde_json::from_value(serde_json::json!({
            "resource_type": kind, "identifier": id, "arn": format!("arn:{id}"), "name": id,
            "account_id": "1", "region": "r"
        }))
        .unwrap()
    }

    #[test]
    fn names_become_types_for_retrieval() {
        let r = [
            resource("pg-main1", "rds_instance"),
            resource("pg-main1-replica", "rds_instance"),
        ];
        assert_eq!(
            retrieval_text("Stop PG-MAIN1 and pg-main1-replica", &r),
            "Stop rds instance and rds instance"
        );
    }
}
