"""Run under ``torchrun``: one forward/backward of the first global batch, report what the test compares.

``python dist_worker.py CONFIG.json RESULT.json``: builds the trainer for CONFIG (each process
holds ``batch_size`` queries of the global batch), gathers embeddings and labels, computes the
loss and the summed gradients, and rank 0 writes the loss, the gathered labels and query
indices, and a gradient fingerprint to RESULT.json. Called with ``WORLD_SIZE`` unset it does the
same in one process, which is how the test obtains the reference.
"""

from __future__ import annotations

import json
import sys

import torch


def main(config_path: str, result_path: str) -> None:
    from sycl.data.collator import batch_order, local_slice
    from sycl.training import Trainer
    from sycl.training.config import ExperimentConfig
    from sycl.training.distributed import all_reduce_gradients, gather_tensor

    cfg = ExperimentConfig.model_validate(json.loads(open(config_path).read()))
    trainer = Trainer(cfg)
    try:
        trainer.prepare()
        ctx = trainer.ctx
        batch = batch_order(len(trainer.dataset), cfg.train.batch_size, cfg.train.seed, 0, ctx.world_size)[0]
        items = local_slice(batch, ctx.rank, ctx.world_size)
        loss, scores, labels, q, p = trainer.backward_batch(items)  # plain, or gradient caching (train.grad_cache)
        params = [prm for prm in trainer.model.parameters() if prm.requires_grad]
        all_reduce_gradients(params, ctx)
        query_index = gather_tensor(torch.as_tensor(trainer.dataset.items[items]), ctx)
        grads = torch.cat([prm.grad.reshape(-1) for prm in params if prm.grad is not None])
        if ctx.is_main:
            with open(result_path, "w") as fh:
                json.dump(
                    {
                        "world_size": ctx.world_size,
                        "loss": loss,
                        "labels": labels.tolist(),
                        "query_index": query_index.tolist(),
                        "scores_shape": list(scores.shape),
                        "grad_norm": float(grads.norm()),
                        "grad_tail": grads[-64:].tolist(),
                        "q": q.detach()[:, :8].tolist(),
                    },
                    fh,
                )
    finally:
        trainer.ctx.teardown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
