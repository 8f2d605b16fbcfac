//! The embedder against the real model: vectors match sentence-transformers', batching
//! changes nothing, and load failures say what to do. Needs the model from `scripts/setup`
//! (`source scripts/env.sh` sets CLOUDOPS_MODEL_DIR and ORT_DYLIB_PATH); without it these
//! tests fail rather than pass silently.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cloudops_core::resource::{Resource, Tag};
use cloudops_estate::embed::{
    cosine, resource_text, text_hash, EmbedError, Embedder, DIM, MODEL_ID,
};
use sha2::Digest;

fn model_dir() -> PathBuf {
    match std::env::var_os("CLOUDOPS_MODEL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "CLOUDOPS_MODEL_DIR is not set: run scripts/setup, then `source scripts/env.sh` \
             (it sets CLOUDOPS_MODEL_DIR and ORT_DYLIB_PATH)"
        ),
    }
}

/// One embedder for every test in this file (loading takes a few hundred ms).
fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        Embedder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}\n(run scripts/setup)"))
    })
}

#[test]
fn vectors_match_sentence_transformers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm-reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let items = reference["items"].as_array().unwrap();
    let texts: Vec<String> = items
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_owned())
        .collect();
    let vectors = embedder().embed(&texts).unwrap();
    let mut worst = (f32::MAX, "");
    for ((item, text), vector) in items.iter().zip(&texts).zip(&vectors) {
        let expected: Vec<f32> = item["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(expected.len(), DIM);
        let c = cosine(vector, &expected);
        // The issue asks for 0.99; the same fp32 weights in ONNX Runtime give 1.000000, so
        // anything below 0.9999 means the graph or the tokenizer settings went wrong.
        assert!(c > 0.9999, "cosine {c:.6} for {text:?}");
        println!("cosine {c:.6}, {} tokens", item["tokens"]);
        if c < worst.0 {
            worst = (c, text);
        }
    }
    let shown: String = worst.1.chars().take(60).collect();
    println!(
        "{} sentences; minimum cosine {:.6} for {shown:?}...",
        texts.len(),
        worst.0
    );
}

#[test]
fn vectors_have_unit_length() {
    let texts: Vec<String> = ["", "production database", "s3 bucket logs"]
        .map(String::from)
        .into();
    for v in embedder().embed(&texts).unwrap() {
        assert_eq!(v.len(), DIM);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let q = embedder()
        .embed_query("which servers run in staging")
        .unwrap();
    assert!((q.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-4);
}

#[test]
fn a_batch_of_250_equals_individual_embeds() {
    let texts: Vec<String> = (0..250)
        .map(|i| {
            let extra = "tag value ".repeat(i % 7);
            format!(
                "ec2 instance app{i}-web env {} {extra}t3.micro",
                ["prod", "dev"][i % 2]
            )
        })
        .collect();
    let batch = embedder().embed(&texts).unwrap();
    assert_eq!(batch.len(), texts.len());
    let mut worst = f32::MAX;
    for (text, vector) in texts.iter().zip(&batch) {
        let alone = embedder().embed_query(text).unwrap();
        worst = worst.min(cosine(vector, &alone));
    }
    println!("minimum cosine between batched and single embeds: {worst:.7}");
    assert!(worst > 0.9999, "batching changed a vector: cosine {worst}");
    assert!(embedder().embed(&[]).unwrap().is_empty());
}

#[test]
fn a_missing_model_folder_is_a_clear_error() {
    let dir = Path::new("/nonexistent/cloudops/all-MiniLM-L6-v2");
    let err = Embedder::load(dir).unwrap_err();
    assert!(matches!(err, EmbedError::ModelDirMissing { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(message.contains("scripts/setup"), "{message}");
    assert!(message.contains("CLOUDOPS_MODEL_DIR"), "{message}");
}

#[test]
fn a_missing_tokenizer_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "model.onnx",
        "config.json",
        "special_tokens_map.json",
        "tokenizer_config.json",
    ] {
        std::fs::write(dir.path().join(file), "{}").unwrap();
    }
    let err = Embedder::load(dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, EmbedError::ModelFileMissing { file } if file.ends_with("tokenizer.json")),
        "{message}"
    );
    assert!(message.contains("tokenizer.json"), "{message}");
    assert!(message.contains("scripts/setup"), "{message}");
}

/// Set by [`a_bad_runtime_library_is_an_error_not_a_panic`] for the child process it runs.
const CHILD: &str = "CLOUDOPS_EMBED_TEST_CHILD";

/// ONNX Runtime loads once per process, so the bad-library case runs in a child process:
/// this same test binary, filtered to [`load_with_a_bad_runtime_library`].
#[test]
fn a_bad_runtime_library_is_an_error_not_a_panic() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "embed::load_with_a_bad_runtime_library",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .env("CLOUDOPS_MODEL_DIR", model_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run:\n{stdout}"
    );
}

#[test]
fn load_with_a_bad_runtime_library() {
    if std::env::var_os(CHILD).is_none() {
        return; // Only meaningful in the child process started above.
    }
    let err = Embedder::from_env().unwrap_err();
    let message = err.to_string();
    println!("{message}");
    assert!(matches!(err, EmbedError::RuntimeLoad { .. }), "{err:?}");
    assert!(
        message.contains("/nonexistent/libonnxruntime.so"),
        "{message}"
    );
    assert!(message.contains("ORT_DYLIB_PATH"), "{message}");
    assert!(message.contains("scripts/setup"), "{message}");
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

fn rds_instance() -> Resource {
    let mut metadata = serde_json::Map::new();
    metadata.insert("engine".into(), "postgres".into());
    metadata.insert("class".into(), "db.r6g.large".into());
    metadata.insert(
        "kms_key_id".into(),
        "arn:aws:kms:eu-west-1:123456789012:key/k".into(),
    );
    metadata.insert("multi_az".into(), true.into());
    Resource {
        resource_type: "rds_instance".into(),
        identifier: "pg-instance-main1".into(),
        arn: "arn:aws:rds:eu-west-1:123456789012:db:pg-instance-main1".into(),
        name: "pg-instance-main1".into(),
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
        state: Some("available".into()),
        tags: vec![
            tag("env", "production"),
            tag("aws:cloudformation:stack-name", "main"),
            tag("Name", "pg-instance-main1"),
            tag("app", "main"),
            tag("backup-target", "arn:aws:s3:::backups-123456789012"),
        ],
        relations: vec![],
        metadata,
    }
}

#[test]
fn resource_text_reads_like_a_description() {
    assert_eq!(
        resource_text(&rds_instance()),
        "rds instance pg-instance-main1 app main backup-target env production postgres db.r6g.large"
    );
}

#[test]
fn resource_text_is_deterministic() {
    let r = rds_instance();
    let mut shuffled = r.clone();
    shuffled.tags.reverse();
    shuffled.metadata = r
        .metadata
        .iter()
        .rev()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(resource_text(&r), resource_text(&r));
    assert_eq!(resource_text(&r), resource_text(&shuffled));
}

#[test]
fn resource_text_has_no_arn_or_account_id() {
    let mut lb = rds_instance();
    lb.resource_type = "elb_load_balancer".into();
    lb.name = "web-123456789012".into();
    lb.identifier =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/1".into();
    lb.tags.push(tag("owner", "account 123456789012"));
    for r in [rds_instance(), lb] {
        let text = resource_text(&r);
        assert!(!text.contains("arn:"), "{text}");
        assert!(!text.contains(&r.account_id), "{text}");
        assert!(
            text.starts_with(&r.resource_type.replace('_', " ")),
            "{text}"
        );
    }
}

#[test]
fn text_hash_mixes_in_the_model() {
    let text = "rds instance pg-instance-main1";
    let plain = hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16]);
    assert_ne!(text_hash(text), plain);
    assert_eq!(text_hash(text).len(), 32);
    assert!(!MODEL_ID.is_empty());
}
