"""What a model costs: FLOPs of its training objective and of inference."""
import copy
import random
from typing import Dict

import numpy as np
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.runner import Runner


class _TrainingObjective(torch.nn.Module):
    """``inputs -> sum of the model's losses`` for one fixed batch (traceable)."""

    def __init__(self, model: torch.nn.Module, data_samples: list):
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs):
        losses = self.model.loss(inputs, self.data_samples)
        return sum(value for key, value in losses.items() if key.startswith('loss'))


def _count(module: torch.nn.Module, inputs: tuple) -> int:
    analyzer = FlopAnalyzer(module, inputs)
    # Element-wise ops (adds, norms, logsumexp) are not counted: convolutions and
    # matrix products are what this reports, as mmengine's get_flops tools do.
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())


def count_flops(runner: Runner) -> Dict[str, float]:
    """Forward FLOPs per image of the training objective and of inference.

    Counted with ``mmengine.analysis.FlopAnalyzer`` (one fused multiply-add = one
    FLOP, as in mmengine's and fvcore's tables; element-wise ops not counted) on a
    copy of ``runner.model`` and one batch of a copy of the config's train loader
    (no workers), so training itself is untouched; the global random states are
    restored afterwards, so the run's data order and initialisation do not depend
    on whether FLOPs were counted.

    - ``train_flops_per_image``: the forward pass of everything ``model.loss``
      computes for a batch (a two-view method counts both views, the projection
      heads and the losses), divided by the batch's images. The backward pass is
      not included (it costs about twice the forward).
    - ``test_flops_per_image``: ``model(inputs, mode='tensor')`` on one image of
      the first view, i.e. what ``predict`` runs (backbone, neck, head).
    """
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    try:
        loader_cfg = copy.deepcopy(runner.cfg.train_dataloader)
        loader_cfg.update(num_workers=0, persistent_workers=False)
        loader = runner.build_dataloader(loader_cfg)
        batch = next(iter(loader))
        model = copy.deepcopy(runner.model).train()
        data = model.data_preprocessor(batch, training=True)
        images = len(data['data_samples'])
        train = _count(_TrainingObjective(model, data['data_samples']),
                       (data['inputs'], ))
        first_view = data['inputs'] if isinstance(data['inputs'], torch.Tensor) \
            else data['inputs'][0]
        test = _count(model.eval(), (first_view[:1], ))
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
    return dict(train_flops_per_image=train / images, test_flops_per_image=test)
