//! Prompt embeddings, batched under load. The model runs one batch at a time (it is behind a
//! lock and uses both cores); prompts that arrive while a batch runs are embedded together in
//! the next one, which costs about half as much per prompt as one by one. A lone prompt waits
//! for nothing: the worker takes what is queued, never waits for more.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use cloudops_estate::embed::{EmbedError, Embedder};

/// The most prompts embedded in one batch.
pub const MAX_BATCH: usize = 32;

struct Job {
    text: String,
    reply: SyncSender<Result<Vec<f32>, EmbedError>>,
}

/// A queue in front of the model, with one worker thread. Dropping the last handle ends the
/// worker.
pub(crate) struct QueryEmbedder {
    jobs: Mutex<Sender<Job>>,
}

impl QueryEmbedder {
    /// Starts the worker.
    pub fn new(embedder: Arc<Embedder>) -> QueryEmbedder {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("cloudops-prompt-embedder".into())
            .spawn(move || work(&embedder, &queue))
            .expect("a thread can be spawned");
        QueryEmbedder {
            jobs: Mutex::new(jobs),
        }
    }

    /// The unit vector of `text`, computed in whatever batch runs next.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            text: text.to_owned(),
            reply,
        };
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job);
        let gone = || EmbedError::BadOutput {
            reason: "the prompt embedding worker stopped".into(),
        };
        sent.map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

fn work(embedder: &Embedder, queue: &Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let texts: Vec<String> = batch.iter().map(|j| j.text.clone()).collect();
        match embedder.embed(&texts) {
            Ok(vectors) => {
                for (job, vector) in batch.into_iter().zip(vectors) {
                    let _ = job.reply.send(Ok(vector));
                }
            }
            // One bad text must not fail the others: each gets its own answer.
            Err(_) => {
                for job in batch {
                    let _ = job.reply.send(embedder.embed_query(&job.text));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prompts embedded together each get their own vector, the one they get alone.
    #[test]
    fn concurrent_prompts_get_their_own_vectors() {
        let embedder = Arc::new(Embedder::from_env().expect("the model (scripts/setup)"));
        let batcher = Arc::new(QueryEmbedder::new(embedder.clone()));
        let texts: Vec<String> = (0..12)
            .map(|i| {
                format!(
                    "stop rds instance number {i} in {}",
                    ["prod", "dev", "staging"][i % 3]
                )
            })
            .collect();
        let handles: Vec<_> = texts
            .iter()
            .cloned()
            .map(|t| {
                let b = batcher.clone();
                std::thread::spawn(move || b.embed(&t).unwrap())
            })
            .collect();
        for (text, handle) in texts.iter().zip(handles) {
            let together = handle.join().unwrap();
            let alone = embedder.embed_query(text).unwrap();
            let cos = cloudops_estate::embed::cosine(&together, &alone);
            assert!(cos > 0.9999, "{text}: cosine {cos}");
        }
    }
}
