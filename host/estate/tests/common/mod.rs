//! Fixtures shared by the store tests and the readers bench (`#[path]`-included there).

use cloudops_estate::store::{resource_id, Point, SparseVector, DENSE_DIM};
use serde_json::json;

/// A resource-like point `i`: deterministic, clustered vectors (40 centres, a little noise),
/// a payload the size of a sealed record, `synced_at` = `generation`.
pub fn point(i: usize, generation: u64) -> Point {
    let mut state = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let centre = i % 200;
    let mut dense: Vec<f32> = (0..DENSE_DIM)
        .map(|d| if d % 200 == centre { 1.0 } else { 0.0 } + 0.3 * next())
        .collect();
    let norm = dense.iter().map(|x| x * x).sum::<f32>().sqrt();
    dense.iter_mut().for_each(|x| *x /= norm);
    let identifier = format!("i-{i:08}");
    let payload = json!({
        "identifier": identifier,
        "account_id": "111111111111",
        "region": "eu-west-1",
        "resource_type": "ec2_instance",
        "synced_at": generation,
        "sealed": "v1:".to_owned() + &"A".repeat(300),
    });
    Point {
        id: resource_id("111111111111", "eu-west-1", "ec2_instance", &identifier),
        dense,
        lexical: SparseVector::from_pairs([(i as u32, 1.0), (100_000 + (i % 7) as u32, 0.5)]),
        payload: payload.as_object().unwrap().clone(),
    }
}
