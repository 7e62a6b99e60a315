"""The configs the benchmark times, and the speed switches as a user turns them on.

A switch set is a ``+`` of ``eager``, ``channels_last``, ``amp`` and ``compile`` (or
``compile=<mode>`` for a ``torch.compile`` mode such as ``reduce-overhead``, CUDA
graphs); :func:`apply_switch` turns each on through the config, as a user would.
:func:`prepare_config` loads a config as ``tools/train.py`` does and points it at
class folders when asked (every classification data set, ImageNet and CIFAR
included, becomes a ``CustomDataset``).
"""
import tempfile
from typing import Optional

from mmengine.config import Config, ConfigDict

from ..utils.launch import apply_tool_dataloader_defaults, merge_cfg_options, use_amp

SWITCHES = ('eager', 'channels_last', 'amp', 'compile')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_switch(text: str) -> tuple:
    """``'eager'`` -> (); ``'channels_last+amp'`` -> ('amp', 'channels_last');
    ``'amp+compile=reduce-overhead'`` -> ('amp', 'compile=reduce-overhead').

    Raises:
        ValueError: an unknown switch or ``torch.compile`` mode, or two compiles.
    """
    names = tuple(sorted({s for s in text.split('+') if s and s != 'eager'}))
    unknown = [s for s in names if s.partition('=')[0] not in SWITCHES
               or ('=' in s and not s.startswith('compile='))]
    if unknown or not text:
        raise ValueError(f'benchmark --switches: unknown switch {text!r}; use '
                         f'{", ".join(SWITCHES)} (compile=<mode> for a torch.compile '
                         'mode) or a "+" of them')
    compiles = [s for s in names if s.startswith('compile')]
    if len(compiles) > 1:
        raise ValueError(f'benchmark --switches: {text!r} compiles twice; give one '
                         'compile or compile=<mode> per switch set')
    for name in compiles:
        mode = name.partition('=')[2]
        if mode:
            from torch._inductor import list_mode_options
            if mode not in list_mode_options():
                raise ValueError(f'benchmark --switches: {mode!r} is no torch.compile '
                                 f'mode; use one of {", ".join(list_mode_options())}')
    return names


def switch_name(switch: tuple) -> str:
    return '+'.join(switch) or 'eager'


def compile_options(switch: tuple, backend: Optional[str] = None) -> Optional[dict]:
    """``torch.compile`` keyword arguments of a switch set (None: not compiled)."""
    for name in switch:
        if name.startswith('compile'):
            mode = name.partition('=')[2]
            options = dict(mode=mode) if mode else {}
            if backend:
                options['backend'] = backend
            return options
    return None


def apply_switch(cfg: Config, switch: tuple, compile_backend: Optional[str] = None
                 ) -> None:
    """Turn the switches on in ``cfg`` the way a user does.

    ``amp``: what ``tools/train.py --amp`` does (``use_amp``); ``channels_last``: a
    ``ChannelsLastHook`` in ``custom_hooks``; ``compile``: mmengine's ``compile``
    setting (``torch.compile`` of ``train_step``): ``compile=True``, or with a mode
    ``compile=dict(mode=...)``, over what the config's own ``compile`` dict sets."""
    if 'amp' in switch:
        use_amp(cfg)
    if 'channels_last' in switch:
        cfg.custom_hooks = list(cfg.get('custom_hooks', None) or []) + [
            dict(type='ChannelsLastHook')]
    options = compile_options(switch, compile_backend)
    if options is not None:
        given = cfg.get('compile', None)
        merged = dict(given) if isinstance(given, dict) else {}
        merged.update(options)
        cfg.compile = merged or True


def as_class_folder_dataset(dataset: ConfigDict) -> None:
    """Make a classification data set config (``ImageNet``, ``CIFAR100``, ...) a
    ``CustomDataset`` of class folders: its type, and the fields only the original
    type knows dropped; a pipeline that started from decoded arrays (CIFAR's binary
    batches) gets ``LoadImageFromFile`` first. Wrappers (``dataset.dataset``) are
    followed to the data set that reads the files."""
    while dataset.get('dataset', None) is not None:
        dataset = dataset.dataset
    dataset.type = 'CustomDataset'
    for field in ('split', 'download', 'test_mode', 'ann_file', 'metainfo'):
        dataset.pop(field, None)
    pipeline = dataset.get('pipeline', None) or []
    if not pipeline or pipeline[0].get('type') != 'LoadImageFromFile':
        dataset.pipeline = [dict(type='LoadImageFromFile')] + list(pipeline)


def prepare_config(path: str, cfg_options: Optional[dict] = None,
                   data_root: Optional[str] = None, train_subset: Optional[int] = None,
                   batch_size: Optional[int] = None, num_workers: Optional[int] = None,
                   work_dir: Optional[str] = None) -> Config:
    """A config as ``tools/train.py`` prepares it, plus the benchmark's overrides:
    with ``data_root``, every loader reads the class folders ``train/`` and
    ``test/`` under it (:func:`as_class_folder_dataset`, then
    :func:`~mmcds.experiments.config_edit.use_class_folders`)."""
    from .config_edit import use_class_folders
    cfg = Config.fromfile(path)
    apply_tool_dataloader_defaults(cfg, list(LOADERS), training=True)
    if data_root is not None:
        for loader in LOADERS:
            if cfg.get(loader, None) is not None:
                cfg[loader] = ConfigDict(cfg[loader].to_dict())  # unshare
                as_class_folder_dataset(cfg[loader].dataset)
        use_class_folders(cfg, data_root, train_subset=train_subset,
                          test_subset=batch_size or cfg.train_dataloader.batch_size)
    for loader in LOADERS:
        if cfg.get(loader, None) is None:
            continue
        if batch_size is not None:
            cfg[loader].batch_size = batch_size
        if num_workers is not None:
            cfg[loader].num_workers = num_workers
            if num_workers == 0:
                cfg[loader].persistent_workers = False
        if loader != 'train_dataloader':
            # one predict batch is taken: no workers left running beside the timing
            cfg[loader].persistent_workers = False
    cfg.work_dir = work_dir or tempfile.mkdtemp(prefix='mmcds_benchmark_')
    cfg.launcher = 'none'
    cfg.log_level = 'WARNING'
    merge_cfg_options(cfg, cfg_options)  # refuses a mistyped top-level key
    return cfg
