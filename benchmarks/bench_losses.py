"""Forward + backward time of every registered loss at training batch shapes.

Usage: ``python benchmarks/bench_losses.py [--repeats 20] [--threads 2]``

Shapes: the local runs (16 queries x 4 passages, in-batch: N = 64), the paper's gathered batch
(64 queries x 4 passages: N = 256; synthetic + real: 64 x 7, N = 448). Also compares ws2's analytic
backward with plain autograd through ``torch.linalg.eigvals`` (the reference's way) on the same
inputs: time and the largest gradient difference relative to the largest gradient. Finally, which
of two fixed predictions each loss prefers (16 x 4, cosine-like scores / 0.05, labels 2/1/0/0): a
correct one (own passages 0.8/0.6/0.4/0.4, others 0.1) or a flat one (all 0.3), the collapse
mechanism of REFERENCE.md made exact (tests/losses/test_losses_collapse.py asserts it).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

import sycl.losses as losses
from sycl.losses.targets import expand_labels
from sycl.losses.ws2 import EIGENVALUE_EPS

SHAPES = [(16, 4), (64, 4), (64, 7)]


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def _plain_ws2(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    s = scores.double()
    x, y = torch.softmax(s, 1).T, torch.softmax(expand_labels(labels.double(), s.shape[1]), 1).T
    q = s.shape[0]
    f = 1.0 / (q - 1) if q >= 2 else 1.0
    mx, my = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    cx, cy = (x - mx) * f**0.5, (y - my) * f**0.5
    tr = torch.sqrt(torch.linalg.eigvals((cx.T @ cy) @ (cy.T @ cx)) + EIGENVALUE_EPS).abs().sum()
    return (cx * cx).sum() + (cy * cy).sum() - 2 * tr + ((mx - my) ** 2).sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {args.threads}")
    print("| loss | Q x k (N) | forward+backward ms |")
    print("|---|---|---|")
    for q, k in SHAPES:
        torch.manual_seed(0)
        base = torch.randn(q, q * k)
        labels = torch.randint(0, 4, (q, k))
        for name in losses.available():
            loss_fn = losses.get(name, temperature=0.05)

            def step():
                scores = base.clone().requires_grad_(True)
                loss_fn(scores, labels).backward()

            print(f"| {name} | {q} x {k} ({q * k}) | {_time(step, args.repeats):.2f} |")
    print()
    print("| ws2 backward | Q x k (N) | analytic ms | autograd-eigvals ms | max grad diff / max grad |")
    print("|---|---|---|---|---|")
    for q, k in SHAPES:
        torch.manual_seed(1)
        base = torch.randn(q, q * k, dtype=torch.float64)
        labels = torch.randint(0, 4, (q, k))
        a, b = base.clone().requires_grad_(True), base.clone().requires_grad_(True)
        losses.get("ws2")(a, labels).backward()
        _plain_ws2(b, labels).backward()
        diff = float((a.grad - b.grad).abs().max() / b.grad.abs().max())

        def ours():
            losses.get("ws2")(base.clone().requires_grad_(True), labels).backward()

        def plain():
            _plain_ws2(base.clone().requires_grad_(True), labels).backward()

        print(
            f"| ws2 | {q} x {k} ({q * k}) | {_time(ours, args.repeats):.2f} | {_time(plain, args.repeats):.2f} | {diff:.1e} |"
        )

    print()
    print("| loss (temperature 0.05) | options | loss(correct) | loss(flat) | prefers |")
    print("|---|---|---|---|---|")
    q, k = 16, 4
    labels = torch.tensor([[2.0, 1.0, 0.0, 0.0]] * q)
    correct = torch.full((q, q * k), 0.1)
    for i in range(q):
        correct[i, i * k : (i + 1) * k] = torch.tensor([0.8, 0.6, 0.4, 0.4])
    flat = torch.full((q, q * k), 0.3)
    configs = [
        ("ws2", {}),
        ("ws2", {"label_temperature": 0.05}),
        ("kl", {}),
        ("kl", {"label_temperature": 0.1}),
        ("wasserstein1d", {}),
        ("wasserstein1d", {"in_batch": "lowest"}),
        ("wasserstein1d", {"in_batch": "lowest", "label_temperature": 0.1}),
        ("lambdaloss", {}),
        ("lambdaloss", {"in_batch": "lowest"}),
        ("infonce", {}),
    ]
    for name, options in configs:
        loss_fn = losses.get(name, temperature=0.05, **options)
        a, b = float(loss_fn(correct, labels)), float(loss_fn(flat, labels))
        print(f"| {name} | {options or 'defaults'} | {a:.4f} | {b:.4f} | {'correct' if a < b else 'FLAT'} |")


if __name__ == "__main__":
    main()
