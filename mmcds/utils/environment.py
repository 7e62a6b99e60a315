"""What ``import mmcds`` checks about its environment, and the installer's helpers.

:func:`check_environment` runs first thing at ``import mmcds``:

- **Python** 3.10-3.13 (``SUPPORTED_PYTHON``), else :class:`ImportError` naming the
  version and the range.
- **torch** ``TORCH_RANGE``: at least 2.4, the first torch with
  ``torch.serialization.add_safe_globals``, which mmcds needs to read mmengine
  checkpoints with ``weights_only=True`` (``safe_checkpoint.py``); below 2.15, since
  2.14 is the newest torch that mmcv 2.1.0's ops were compiled against with
  ``scripts/install.sh``'s fixes (C++20, setuptools < 70, no build isolation).
  Verified: torch 2.14.1 (CPU ops, the whole test suite) and torch 2.11 + CUDA 13 on
  an H200 (classification; docs/installation.md). Outside the range:
  :class:`ImportError` naming the version and the range; ``MMCDS_ALLOW_UNTESTED_TORCH=1``
  turns the error for a torch newer than 2.14 into a warning.
- **mmpretrain without what the installed transformers breaks.** mmpretrain 1.2.0
  imports its multimodal models (BLIP, BLIP-2, OFA, ...) whenever pycocotools (an
  mmdet requirement) and transformers >= 4.28 are installed
  (``mmpretrain/utils/dependency.py``: ``WITH_MULTIMODAL``). Those modules import
  names that transformers 5 removed, and importing mmpretrain's models dies in
  ``blip/language_model.py`` with ``TypeError: NoneType takes no arguments``.
  :func:`import_mmpretrain` tries those imports first (``MMPRETRAIN_NEEDS``, read
  off mmpretrain 1.2.0's sources); where one fails, mmpretrain is imported with
  ``WITH_MULTIMODAL`` off (its own fallback when the packages are missing: the
  multimodal names are registered as placeholders that explain themselves), and one
  line of mmengine's log warns, naming transformers, its version and the fix. mmcds
  uses no multimodal model, so classification and detection run unchanged. This
  works while ``mmpretrain.models`` is not imported yet (``import mmpretrain``
  alone does not import it); ``import mmcds`` first.

The module imports only the standard library at the top, so ``scripts/install.sh``
runs it before anything is installed::

    python -I mmcds/utils/environment.py check-python
    python -I mmcds/utils/environment.py check-torch 2.11.0+cu130
    python -I mmcds/utils/environment.py torchvision-for 2.11.0+cu130   # 0.26.0
"""
import importlib
import importlib.util
import logging
import os
import os.path as osp
import re
import sys
import warnings
from typing import Optional, Sequence, Tuple

SUPPORTED_PYTHON = ((3, 10), (3, 13))  # first and last minor version, both included
TORCH_RANGE = ((2, 4), (2, 15))  # [first supported, first unsupported)
ALLOW_UNTESTED_TORCH = 'MMCDS_ALLOW_UNTESTED_TORCH'
TRANSFORMERS_FIX = 'pip install "transformers<5"'

# What mmpretrain 1.2.0 imports from transformers when WITH_MULTIMODAL is on
# (mmpretrain/models/multimodal/{blip,blip2,chinese_clip,llava,ofa,ram}/*.py and
# models/utils/{huggingface,tokenizer}.py).
MMPRETRAIN_NEEDS = {
    'transformers': ('AutoConfig', 'AutoTokenizer', 'BartTokenizer', 'BasicTokenizer',
                     'BertTokenizer', 'BertTokenizerFast', 'LlamaTokenizer',
                     'PreTrainedModel', 'WordpieceTokenizer'),
    'transformers.activations': ('ACT2FN', ),
    'transformers.modeling_outputs': (
        'BaseModelOutputWithPast', 'BaseModelOutputWithPastAndCrossAttentions',
        'BaseModelOutputWithPoolingAndCrossAttentions',
        'CausalLMOutputWithCrossAttentions', 'CausalLMOutputWithPast', 'ModelOutput',
        'Seq2SeqLMOutput'),
    'transformers.modeling_utils': (
        'GenerationConfig', 'GenerationMixin', 'PreTrainedModel', 'PretrainedConfig',
        'apply_chunking_to_forward', 'find_pruneable_heads_and_indices',
        'prune_linear_layer'),
    'transformers.models.auto.auto_factory': ('_BaseAutoModelClass', ),
    'transformers.models.bert.configuration_bert': ('BertConfig', ),
    'transformers.models.opt.configuration_opt': ('OPTConfig', ),
    'transformers.utils': ('add_code_sample_docstrings', 'add_start_docstrings',
                           'add_start_docstrings_to_model_forward', 'logging',
                           'replace_return_docstrings'),
}


def release(version: str) -> Tuple[int, ...]:
    """``'2.11.0+cu130'`` -> (2, 11, 0); ``'2.15.0.dev20270101'`` -> (2, 15, 0).

    Raises:
        ValueError: ``version`` does not start with a number.
    """
    match = re.match(r'(\d+(?:\.\d+)*)', str(version).strip())
    if match is None:
        raise ValueError(f'cannot read a version number from {version!r}')
    return tuple(int(part) for part in match.group(1).split('.'))


def _text(version: Sequence[int]) -> str:
    return '.'.join(str(part) for part in version)


def python_problem(version_info: Sequence[int] = sys.version_info) -> Optional[str]:
    """Why this Python is not supported, or None."""
    first, last = SUPPORTED_PYTHON
    if first <= tuple(version_info[:2]) <= last:
        return None
    return (f'mmcds supports Python {_text(first)}-{_text(last)}; this is Python '
            f'{_text(version_info[:3])} ({sys.executable}): use an environment with '
            'a supported Python')


def torch_problem(version: str) -> Optional[str]:
    """Why this torch version is not supported, or None."""
    (first, stop), current = TORCH_RANGE, release(version)[:2]
    if first <= current < stop:
        return None
    if current < first:
        why = (f'torch >= {_text(first)} is needed to read checkpoints with '
               'weights_only=True')
    else:
        why = (f'torch {_text(stop)} and newer are untested (mmcv 2.1.0 was built '
               f'against torch <= {stop[0]}.{stop[1] - 1}); '
               f'{ALLOW_UNTESTED_TORCH}=1 tries anyway')
    return (f'mmcds supports torch >= {_text(first)}, < {_text(stop)}; this is torch '
            f'{version}: {why}. Install a supported torch (and its torchvision) and '
            'rebuild mmcv with scripts/install.sh (docs/installation.md)')


def torchvision_for(torch_version: str) -> str:
    """The torchvision release built for a torch release: torch 2.m.p pairs with
    torchvision 0.(m+15).p (2.4 with 0.19, 2.11 with 0.26, 2.14.1 with 0.29.1)."""
    major, minor, patch = (release(torch_version) + (0, 0))[:3]
    if major != 2:
        raise ValueError(f'no torchvision pairing known for torch {torch_version}')
    return f'0.{minor + 15}.{patch}'


def check_python() -> None:
    """:class:`ImportError` on an unsupported Python."""
    problem = python_problem()
    if problem:
        raise ImportError(problem)


def check_torch() -> None:
    """:class:`ImportError` (or, for a newer torch with ``MMCDS_ALLOW_UNTESTED_TORCH=1``,
    a warning) on an unsupported torch."""
    import torch
    problem = torch_problem(torch.__version__)
    if problem is None:
        return
    newer = release(torch.__version__)[:2] >= TORCH_RANGE[1]
    if newer and os.environ.get(ALLOW_UNTESTED_TORCH) == '1':
        warnings.warn(problem, RuntimeWarning, stacklevel=3)
        return
    raise ImportError(problem)


def transformers_problem() -> Optional[str]:
    """What the installed transformers lacks of ``MMPRETRAIN_NEEDS``, or None."""
    try:
        for name, needed in MMPRETRAIN_NEEDS.items():
            module = importlib.import_module(name)
            missing = [attr for attr in needed if not hasattr(module, attr)]
            if missing:
                return f'{name} has no {", ".join(missing)}'
    except Exception as error:  # noqa: BLE001  any failure is what is looked for
        return f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}'
    return None


def _mmpretrain_dependency():
    """mmpretrain's ``utils/dependency.py`` loaded on its own (without running
    ``mmpretrain/__init__.py``, which imports the models), or None."""
    spec = importlib.util.find_spec('mmpretrain')
    if spec is None or not spec.origin:
        return None
    path = osp.join(osp.dirname(spec.origin), 'utils', 'dependency.py')
    module_spec = importlib.util.spec_from_file_location('mmpretrain.utils.dependency',
                                                         path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def import_mmpretrain() -> Optional[str]:
    """Import mmpretrain; where its multimodal models cannot import because of the
    installed transformers, without them. Returns the warning given, or None."""
    if 'mmpretrain.models' in sys.modules:
        return None  # too late to steer (it worked, or raised already)
    dependency = sys.modules.get('mmpretrain.utils.dependency') \
        or _mmpretrain_dependency()
    if dependency is None or not dependency.WITH_MULTIMODAL:
        return None  # nothing to steer; a missing mmpretrain fails where it is used
    problem = transformers_problem()
    if problem is None:
        return None
    # mmpretrain's models and data sets read the flag from this module object
    dependency.WITH_MULTIMODAL = False
    if 'mmpretrain.utils.dependency' not in sys.modules:
        sys.modules['mmpretrain.utils.dependency'] = dependency
        import mmpretrain.utils
        mmpretrain.utils.dependency = dependency
    from importlib.metadata import version
    message = (f'mmcds: transformers {version("transformers")} cannot run mmpretrain '
               f"1.2.0's multimodal models ({problem}); mmpretrain was imported "
               'without them (classification and detection are unaffected). For '
               f'BLIP and the other multimodal models: {TRANSFORMERS_FIX}')
    from mmengine.logging import print_log
    print_log(message, logger='current', level=logging.WARNING)
    return message


def check_environment() -> None:
    """What ``import mmcds`` checks first (module docstring)."""
    check_python()
    check_torch()
    import_mmpretrain()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv) or ['']
    command = args[0]
    if command == 'check-python':
        problem = python_problem()
    elif command == 'check-torch' and len(args) == 2:
        problem = torch_problem(args[1])
    elif command == 'torchvision-for' and len(args) == 2:
        print(torchvision_for(args[1]))
        return 0
    else:
        print('usage: python -I mmcds/utils/environment.py check-python | '
              'check-torch VERSION | torchvision-for TORCH_VERSION', file=sys.stderr)
        return 2
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
