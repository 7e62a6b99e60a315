"""Run mmpretrain's command-line tools on mmcds configs and checkpoints.

mmpretrain 1.2.0 ships its tools with the package (``mmpretrain/.mim/tools``) but not
as importable modules. :func:`run_mmpretrain_tool` imports mmcds (registering our
models, metrics and the ``mmcds::`` scope) and then runs the tool's file as
``python TOOL ARGS`` would; ``tools/analysis_tools/*.py`` and
``tools/visualization/vis_tsne.py`` are thin wrappers around it, taking mmpretrain's
flags.
"""
import contextlib
import os.path as osp
import runpy
import sys
from typing import Iterator, Optional, Sequence
from unittest import mock


def mmpretrain_tool_path(relative: str) -> str:
    """The path of mmpretrain's ``tools/<relative>`` in the installed package."""
    import mmpretrain
    path = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', relative)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmpretrain {mmpretrain.__version__} at {osp.dirname(mmpretrain.__file__)} '
            f'ships no tools/{relative}; install mmpretrain 1.2.0 from PyPI')
    return path


def run_mmpretrain_tool(relative: str, argv: Optional[Sequence[str]] = None) -> None:
    """Run mmpretrain's ``tools/<relative>`` as ``python TOOL *argv`` (default: this
    process's arguments), after ``import mmcds``."""
    import mmcds  # noqa: F401  registers our modules before the tool parses a config
    path = mmpretrain_tool_path(relative)
    args = sys.argv[1:] if argv is None else list(argv)
    saved_argv, saved_path = sys.argv, list(sys.path)
    # what `python TOOL` sets: the tool's name and folder (its sibling imports)
    sys.argv = [path, *args]
    sys.path.insert(0, osp.dirname(path))
    try:
        runpy.run_path(path, run_name='__main__')
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


@contextlib.contextmanager
def tsne_taking_n_iter() -> Iterator[None]:
    """Let mmpretrain's vis_tsne call scikit-learn's ``TSNE(n_iter=...)``.

    scikit-learn 1.5 renamed ``n_iter`` to ``max_iter`` and 1.7 removed it, so the tool
    fails with a TypeError on the installed scikit-learn; inside this context
    ``sklearn.manifold.TSNE`` maps the argument over.
    """
    import sklearn.manifold as manifold
    original = manifold.TSNE

    def tsne(*args, n_iter=None, **kwargs):
        if n_iter is not None:
            kwargs['max_iter'] = n_iter
        return original(*args, **kwargs)

    with mock.patch.object(manifold, 'TSNE', tsne):
        yield


@contextlib.contextmanager
def visualizer_without_scope() -> Iterator[None]:
    """Let mmpretrain's browse_dataset build its visualizer from our configs.

    The tool passes ``cfg.visualizer`` (less ``type``) to
    ``UniversalVisualizer(**...)``; a config that inherits
    ``mmpretrain::_base_/default_runtime.py``, as every config of ours does, also
    carries mmengine's ``_scope_`` key there, which the constructor refuses
    (``TypeError: ... unexpected keyword argument '_scope_'``). Inside this context
    ``Config.fromfile`` returns configs without that key in ``visualizer``.
    """
    from mmengine.config import Config
    original = Config.__dict__['fromfile']  # the staticmethod itself

    def fromfile(*args, **kwargs):
        cfg = original.__func__(*args, **kwargs)
        if isinstance(cfg.get('visualizer'), dict):
            cfg.visualizer.pop('_scope_', None)
        return cfg

    with mock.patch.object(Config, 'fromfile', staticmethod(fromfile)):
        yield


@contextlib.contextmanager
def adjust_bbox_taking_no_renderer() -> Iterator[None]:
    """Let mmpretrain's browse_dataset call matplotlib's ``adjust_bbox(fig, bbox)``.

    matplotlib 3.11 (installed) made the renderer a required third argument of
    ``matplotlib._tight_bbox.adjust_bbox``; mmpretrain 1.2.0 passes two, so every
    image failed with a TypeError. Inside this context a missing renderer is the
    figure canvas's own (the one the tool just measured the bounding box with).
    """
    import matplotlib._tight_bbox as tight_bbox
    original = tight_bbox.adjust_bbox

    def adjust_bbox(fig, bbox_inches, renderer=None, *args, **kwargs):
        if renderer is None:
            renderer = fig.canvas.get_renderer()
        return original(fig, bbox_inches, renderer, *args, **kwargs)

    with mock.patch.object(tight_bbox, 'adjust_bbox', adjust_bbox):
        yield
