//! Loading all-MiniLM-L6-v2 and running it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use ort::environment::Environment;

use super::{norm, EmbedError, DIM};

/// Texts per model run. Larger runs pad more and fall out of cache: on 2 cores, the demo
/// estate's 38-token texts, sorted by token count, ran at 128–132 texts/s in runs of 16,
/// 111–120 in runs of 32 and 90–104 in runs of 50 (runs of 8: the same as 16).
const BATCH: usize = 16;
/// Tokens per text, as sentence-transformers uses for this model. The model's own
/// tokenizer.json truncates at 128, so this must be set explicitly.
const MAX_LENGTH: usize = 256;
/// The ONNX Runtime library `scripts/setup` installs next to the model folder.
const ORT_LIB: &str = "libonnxruntime.so.1.32.0";

/// The files the model folder must hold.
const MODEL_FILE: &str = "model.onnx";
const TOKENIZER_FILE: &str = "tokenizer.json";
const CONFIG_FILE: &str = "config.json";
const SPECIAL_TOKENS_FILE: &str = "special_tokens_map.json";
const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";

/// The process's one ONNX Runtime environment: `ort` allows only one per process, ever.
static RUNTIME: Mutex<Option<Environment>> = Mutex::new(None);

/// Turns texts into unit-length [`DIM`]-d vectors with all-MiniLM-L6-v2.
///
/// `Send + Sync`: share one per process (behind an `Arc`). Calls are serialised on an
/// internal lock, one run of 16 texts at a time, so a query waits for at most one run of a
/// bulk embed; ONNX Runtime already uses every core for each run.
pub struct Embedder {
    model: Mutex<TextEmbedding>,
    model_dir: PathBuf,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model_dir", &self.model_dir)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from `model_dir`, which must hold `model.onnx`, `tokenizer.json`,
    /// `config.json`, `special_tokens_map.json` and `tokenizer_config.json`.
    ///
    /// ONNX Runtime is loaded, once per process, from `ORT_DYLIB_PATH`, else from
    /// `../onnxruntime/libonnxruntime.so.1.32.0` beside `model_dir` (where `scripts/setup`
    /// puts it). A missing or unusable library is an error, never a panic.
    pub fn load(model_dir: &Path) -> Result<Embedder, EmbedError> {
        Self::load_from(model_dir, "as given")
    }

    /// Loads the model from `CLOUDOPS_MODEL_DIR`, else from
    /// `<data dir>/models/all-MiniLM-L6-v2`; see [`Embedder::load`].
    pub fn from_env() -> Result<Embedder, EmbedError> {
        match std::env::var_os("CLOUDOPS_MODEL_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => Self::load_from(Path::new(&dir), "from CLOUDOPS_MODEL_DIR"),
            None => Self::load_from(
                &crate::paths::data_dir(None)
                    .join("models")
                    .join("all-MiniLM-L6-v2"),
                "the default; CLOUDOPS_MODEL_DIR is not set",
            ),
        }
    }

    /// The process's model ([`Embedder::from_env`]), loaded on first use and kept while
    /// anything holds it. A process that searches, syncs and plans at once (the app) holds
    /// one copy of the model and its runtime's buffers, not one per task; calls are
    /// serialised anyway (see [`Embedder`]), so sharing costs no parallelism.
    pub fn shared() -> Result<Arc<Embedder>, EmbedError> {
        static SHARED: Mutex<Weak<Embedder>> = Mutex::new(Weak::new());
        // Held while loading: two tasks asking at once load it once.
        let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(model) = slot.upgrade() {
            return Ok(model);
        }
        let model = Arc::new(Self::from_env()?);
        *slot = Arc::downgrade(&model);
        Ok(model)
    }

    fn load_from(model_dir: &Path, origin: &'static str) -> Result<Embedder, EmbedError> {
        if !model_dir.is_dir() {
            return Err(EmbedError::ModelDirMissing {
                dir: model_dir.to_owned(),
                origin,
            });
        }
        // Read every file before touching ONNX Runtime, so a bad folder is reported as such.
        let read = |name: &str| read_model_file(&model_dir.join(name));
        let onnx = read(MODEL_FILE)?;
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: read(TOKENIZER_FILE)?,
            config_file: read(CONFIG_FILE)?,
            special_tokens_map_file: read(SPECIAL_TOKENS_FILE)?,
            tokenizer_config_file: read(TOKENIZER_CONFIG_FILE)?,
        };
        let environment = runtime(model_dir)?;

        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let options = InitOptionsUserDefined::new()
            .with_environment(environment)
            .with_max_length(MAX_LENGTH)
            .with_intra_threads(threads)
            // ONNX Runtime's workers spin between operators by default: free on an idle
            // machine, but during a sync they burn the core the AWS responses are parsed on.
            .with_session_config("session.intra_op.allow_spinning", "0");
        let model =
            UserDefinedEmbeddingModel::new(onnx, tokenizer_files).with_pooling(Pooling::Mean);
        let model = TextEmbedding::try_new_from_user_defined(model, options).map_err(|source| {
            EmbedError::Model {
                dir: model_dir.to_owned(),
                source,
            }
        })?;
        let embedder = Embedder {
            model: Mutex::new(model),
            model_dir: model_dir.to_owned(),
        };
        // A wrong model (another width, a broken export) fails here rather than at first use.
        embedder.embed_query("cloudops")?;
        Ok(embedder)
    }

    /// One unit-length [`DIM`]-d vector per text, in order. Runs the model on runs of 16
    /// texts of similar token count. Texts longer than 256 tokens are truncated.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Batch texts of equal token count together: each run is padded to its longest text,
        // so this saves work and changes no vector. Sorting by characters, as
        // sentence-transformers does, left 20% of the tokens run as padding on the demo
        // estate; by tokens, 9%. Tokenizing twice costs ~1% of a run.
        let tokens = self.token_counts(texts);
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| tokens[i]);
        let mut vectors = vec![Vec::new(); texts.len()];
        for indices in order.chunks(BATCH) {
            let batch: Vec<&str> = indices.iter().map(|&i| texts[i].as_str()).collect();
            for (&i, vector) in indices.iter().zip(self.run(&batch)?) {
                vectors[i] = unit(vector)?;
            }
        }
        Ok(vectors)
    }

    /// How many tokens the model sees for each text (`usize::MAX` where the tokenizer fails,
    /// so the failure is reported by the run that holds that text).
    fn token_counts(&self, texts: &[String]) -> Vec<usize> {
        let model = self.model.lock().unwrap_or_else(PoisonError::into_inner);
        texts
            .iter()
            .map(|text| {
                model
                    .tokenizer
                    .encode(text.as_str(), true)
                    .map_or(usize::MAX, |encoding| encoding.len())
            })
            .collect()
    }

    /// The unit-length [`DIM`]-d vector of one query.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let vector =
            self.run(&[text])?
                .into_iter()
                .next()
                .ok_or_else(|| EmbedError::BadOutput {
                    reason: "no vector for a query".into(),
                })?;
        unit(vector)
    }

    fn run<S: AsRef<str> + Send + Sync>(&self, batch: &[S]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut model = self.model.lock().unwrap_or_else(PoisonError::into_inner);
        let vectors = model
            .embed(batch, Some(BATCH))
            .map_err(|source| EmbedError::Inference {
                count: batch.len(),
                source,
            })?;
        if vectors.len() != batch.len() {
            return Err(EmbedError::BadOutput {
                reason: format!("{} vectors for {} texts", vectors.len(), batch.len()),
            });
        }
        Ok(vectors)
    }
}

/// Checks a vector's width and values, and scales it to unit length if it is not already.
fn unit(mut vector: Vec<f32>) -> Result<Vec<f32>, EmbedError> {
    if vector.len() != DIM {
        return Err(EmbedError::BadOutput {
            reason: format!("{}-d vectors where {DIM}-d were expected", vector.len()),
        });
    }
    let norm = norm(&vector);
    if !norm.is_finite() || norm == 0.0 {
        return Err(EmbedError::BadOutput {
            reason: format!("a vector of length {norm}"),
        });
    }
    if (norm - 1.0).abs() > 1e-5 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    Ok(vector)
}

fn read_model_file(file: &Path) -> Result<Vec<u8>, EmbedError> {
    if !file.is_file() {
        return Err(EmbedError::ModelFileMissing {
            file: file.to_owned(),
        });
    }
    std::fs::read(file).map_err(|source| EmbedError::ReadModelFile {
        file: file.to_owned(),
        source,
    })
}

/// The process's ONNX Runtime environment, created on first use from the library that
/// [`runtime_library`] finds.
fn runtime(model_dir: &Path) -> Result<Environment, EmbedError> {
    let mut runtime = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(environment) = runtime.as_ref() {
        return Ok(environment.clone());
    }
    let (path, origin) = runtime_library(model_dir)?;
    let failed = |reason: String| EmbedError::RuntimeLoad {
        path: path.clone(),
        origin,
        reason,
    };
    let environment = ort::init_from(&path)
        .map_err(|e| failed(e.to_string()))?
        .with_name("cloudops")
        .with_telemetry(false)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    *runtime = Some(environment.clone());
    Ok(environment)
}

/// `ORT_DYLIB_PATH`, else the library `scripts/setup` puts beside the model folder.
fn runtime_library(model_dir: &Path) -> Result<(PathBuf, &'static str), EmbedError> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return Ok((PathBuf::from(path), "from ORT_DYLIB_PATH"));
    }
    model_dir
        .parent()
        .map(|models| models.join("onnxruntime").join(ORT_LIB))
        .filter(|path| path.is_file())
        .map(|path| (path, "beside the model folder; ORT_DYLIB_PATH is not set"))
        .ok_or(EmbedError::RuntimeNotConfigured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedder_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Embedder>();
    }

    #[test]
    fn vectors_of_the_wrong_width_are_refused() {
        let err = unit(vec![1.0; 768]).unwrap_err();
        assert!(err.to_string().contains("768-d vectors"), "{err}");
    }

    #[test]
    fn vectors_are_scaled_to_unit_length() {
        let v = unit(vec![2.0; DIM]).unwrap();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        assert!(unit(vec![0.0; DIM]).is_err());
        assert!(unit(vec![f32::NAN; DIM]).is_err());
    }
}
