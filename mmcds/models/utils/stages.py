"""What a multi-stage backbone outputs, and which of its stages get exits."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn


def infer_stage_channels(backbone: nn.Module,
                         probe_sizes: Sequence[int] = (64, 224)) -> Tuple[int, ...]:
    """The channels of each output of ``backbone`` (a tuple of (B, C, H, W) maps).

    Found by one forward pass on a zero image in eval mode; no state is changed. The
    small size is tried first (cheap); backbones that need more pixels (e.g. Swin's
    7x7 windows at 1/32 scale) get the next size.

    Raises:
        ValueError: no probe size runs, or the outputs are not (B, C, H, W) maps.
    """
    was_training = backbone.training
    backbone.eval()
    param = next(backbone.parameters())
    errors = []
    try:
        for size in probe_sizes:
            try:
                with torch.no_grad():
                    outs = backbone(param.new_zeros(1, 3, size, size))
                break
            except Exception as err:  # any failure: try the next size, then report
                errors.append(f'{size}x{size}: {type(err).__name__}: {err}')
        else:
            raise ValueError('could not probe its stage channels with a zero image ('
                             + '; '.join(errors) + ')')
    finally:
        backbone.train(was_training)
    if not isinstance(outs, (tuple, list)) or any(o.dim() != 4 for o in outs):
        raise ValueError('it needs a backbone that returns a tuple of (B, C, H, W) '
                         'stage maps')
    return tuple(o.shape[1] for o in outs)


def validate_exit_stages(num_outputs: int, stages: Optional[Sequence[int]], owner: str,
                         field: str = 'exit_stages') -> Tuple[int, ...]:
    """Check and sort the 0-based exit positions.

    Sorted 0-based exit positions, each a distinct backbone output before the last;
    None means every output but the last.

    Raises:
        ValueError: empty, repeated or out of ``0..num_outputs - 2``.
    """
    if stages is None:
        stages = range(num_outputs - 1)
    stages = tuple(int(s) for s in stages)
    if not stages:
        raise ValueError(f'{owner}.{field} selects no stage; give at least one of '
                         f'0..{num_outputs - 2}')
    bad = [s for s in stages if not 0 <= s < num_outputs - 1]
    if bad or len(set(stages)) != len(stages):
        raise ValueError(f'{owner}.{field}={stages}: every entry must be a distinct '
                         f'backbone output before the last, i.e. in 0..{num_outputs - 2}'
                         '; check backbone.out_indices')
    return tuple(sorted(stages))


def per_stage_values(value: Union[float, Sequence[float]], num_stages: int, owner: str,
                     field: str) -> Tuple[float, ...]:
    """``value`` repeated for ``num_stages`` stages, or a sequence of that length.

    Raises:
        ValueError: a sequence of another length, or a negative value.
    """
    if isinstance(value, (int, float)):
        values = (float(value), ) * num_stages
    else:
        values = tuple(float(v) for v in value)
    if len(values) != num_stages:
        raise ValueError(f'{owner}.{field} has {len(values)} entries for {num_stages} '
                         'exit stages; give one value or one per stage')
    if any(v < 0 for v in values):
        raise ValueError(f'{owner}.{field}={values}: weights must be >= 0')
    return values
