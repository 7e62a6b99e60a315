"""Every leaf config under configs/ starts: ``Runner.from_cfg`` builds its model, its
train loader (with the config's sampler and batch sampler), its optimizer wrapper and
its hooks, and ``runner.train()`` runs one training iteration on a tiny stand-in of the
config's data, written here in that data set's real on-disk layout
(tests/standin_data.py): class folders of JPEGs (the CIFAR-10 JPEGs, the demo digits),
ImageNet's folders with meta/{train,val}.txt, CIFAR-100's python pickles, the layouts of
CUB, Stanford Dogs, FGVC Aircraft, Flowers-102 and Stanford Cars, COCO json + images.
The configs are found by a glob, so a config added later is covered without a change
here; a config whose data set has no stand-in fails.

Only this is changed in a config: data roots (to the stand-ins), image sizes (every
size of the training pipeline scaled so that the training crop is 16 px, 64 px for
detectors), batch size 2 (a semi-supervised batch: 1 labelled + 1 unlabelled image),
no dataloader workers, no validation, checkpoints the configs take from earlier runs
(a distiller's teacher, a detector's or fine-tuned model's pretrained backbone: written
here from the freshly built modules), a work directory and log name of its own, and
backbones, shrunk for time as follows. The run stops after its first iteration (after
every hook but CheckpointHook saw it).

Configs that are the same but for the backbone's depth and width (depth, stem and base
channels, expansion, ResNeXt groups and width per group) and the head width that
follows them form a group. Its smallest config runs at its full structure, the others
with that config's backbone and head widths (their own file, data, sampler, hooks,
optimizer and schedule otherwise); tests/test_configs.py builds every model at its
full structure. The groups today (smallest <- the others):

- ce and cds each: CIFAR-100 ResNet-18 <- ResNet-50, ResNet-101, Wide ResNet-50,
  Wide ResNet-101; ResNeXt-50 <- ResNeXt-101; SE-ResNet-18 <- SE-ResNet-50; ImageNet
  ResNet-18 <- ResNet-34, ResNet-50 (and ResNet-101 for cds);
- dsn, dks and dhm each: ImageNet ResNet-18 <- ResNet-34, ResNet-50;
- cds on the CIFAR-10 JPEGs: width 16 <- width 32;
- distill: the ImageNet ResNet-18 student <- the ResNet-34 one (both with the
  ResNet-50 teacher).

Every other config (the fine-grained ones, the detectors, the semi-supervised ones, the
other distillers, ...) runs at its full structure.

Also checked here, on every runner: the reliability hooks and the sampler the configs
promise (docs/troubleshooting.md) are what the config builds."""
import copy
import json
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmcds  # noqa: F401
import standin_data as standin
from test_configs import LEAF_CONFIGS

# Training crop (px) the pipelines are scaled to.
CLASSIFIER_SIZE, DETECTOR_SIZE = 16, 64
# Pipeline arguments that are sizes in pixels, by transform.
SIZE_ARGUMENTS = {
    'RandomCrop': ('crop_size', 'padding'), 'CenterCrop': ('crop_size', ),
    'RandomResizedCrop': ('scale', ), 'Resize': ('scale', ), 'ResizeEdge': ('scale', ),
    'ClippedCutout': ('length', ),
}
# What the configs promise (configs/_base_/default_runtime.py; the detectors'
# configs/det/_base_/*.py, which have no exact resume).
CLASSIFIER_HOOKS = {'NonFiniteLossHook', 'ClassCheckHook', 'DataErrorHook',
                    'ExactResumeHook'}
DETECTOR_HOOKS = {'PretrainedCheckHook', 'NonFiniteLossHook', 'ClassCheckHook',
                  'DataErrorHook'}


class _FirstIterationDone(Exception):
    """Raised by :class:`StopAfterFirstIteration`."""


class StopAfterFirstIteration(Hook):
    """Keep the first iteration's outputs and stop training there (after every hook
    but CheckpointHook, priority VERY_LOW = 90, ran ``after_train_iter``)."""

    priority = 80

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.outputs = {k: float(v) for k, v in outputs.items()}
        self.batch_size = len(data_batch['data_samples'])
        raise _FirstIterationDone


# What a group may differ in: the backbone's depth and width, and the head's width
# that follows them.
BACKBONE_SIZE = ('depth', 'stem_channels', 'base_channels', 'expansion', 'groups',
                 'width_per_group')


def without_size(cfg_dict: dict) -> dict:
    """The config without what the configs of a group may differ in."""
    cfg_dict = copy.deepcopy(cfg_dict)
    model = cfg_dict.get('model', {})
    for key in BACKBONE_SIZE:
        model.get('backbone', {}).pop(key, None)
    if isinstance(model.get('head'), dict):
        model['head'].pop('in_channels', None)
    return cfg_dict


def size_of(cfg) -> tuple:
    """How large the config's backbone is, to pick a group's smallest (sizes a config
    does not set count as mmpretrain's ResNet defaults)."""
    backbone = cfg.model.get('backbone', {})
    return (backbone.get('depth', 0), backbone.get('base_channels', 64),
            backbone.get('stem_channels', 64), backbone.get('expansion', 0))


def set_size(cfg, smallest) -> None:
    """Give ``cfg`` the backbone depth and width (and head width) of ``smallest``."""
    if 'backbone' not in cfg.model:
        return
    for key in BACKBONE_SIZE:
        if key in smallest.model.backbone:
            cfg.model.backbone[key] = smallest.model.backbone[key]
        else:
            cfg.model.backbone.pop(key, None)
    if 'in_channels' in smallest.model.get('head', {}):
        cfg.model.head.in_channels = smallest.model.head.in_channels


@pytest.fixture(scope='module', autouse=True)
def _config_text_unformatted():
    """The config text as mmengine writes it, without yapf's formatting: a Runner
    logs and dumps its config's text, and yapf takes ~0.5 s for each distinct one
    (what the runner builds is unchanged)."""
    import mmengine.config.config as config_module
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config_module, 'FormatCode',
                      lambda text, style_config=None, **kwargs: (text, None))
        yield


@pytest.fixture(scope='module')
def groups():
    """``{config: (its Config, the smallest config of its group)}``; a config that
    does not load: ``{config: (the error, None)}``."""
    configs, errors = {}, {}
    for path in LEAF_CONFIGS:
        try:
            configs[path] = Config.fromfile(path)
        except Exception as error:  # noqa: BLE001  failed by its own test
            errors[path] = (error, None)
    by_key = {}
    for path, cfg in configs.items():
        key = json.dumps(without_size(cfg.to_dict()), sort_keys=True, default=str)
        by_key.setdefault(key, []).append(path)
    smallest = {}
    for members in by_key.values():
        first = min(members, key=lambda p: (size_of(configs[p]), p))
        smallest.update({path: first for path in members})
    return dict(errors, **{path: (cfg, configs[smallest[path]])
                           for path, cfg in configs.items()})


def leaf_dataset(loader_cfg):
    """The dataset config that reads files, under wrappers (SemiSupervisedDataset)."""
    dataset = loader_cfg.dataset
    while 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset


def scale_sizes(pipeline, factor: float) -> None:
    """Scale the pixel sizes of ``pipeline`` (nested MultiView / RandomApply
    transforms too) by ``factor``, in place."""
    for transform in pipeline:
        if isinstance(transform, (list, tuple)):
            scale_sizes(transform, factor)
            continue
        for key in SIZE_ARGUMENTS.get(transform.get('type'), ()):
            value = transform.get(key)
            if isinstance(value, (list, tuple)):
                transform[key] = type(value)(max(1, round(v * factor)) for v in value)
            elif isinstance(value, (int, float)):
                transform[key] = max(1, round(value * factor))
        if 'transforms' in transform:
            scale_sizes(transform['transforms'], factor)


def training_crop(pipeline) -> int:
    """The largest size (px) in ``pipeline``'s arguments of :data:`SIZE_ARGUMENTS`."""
    sizes = []
    for transform in pipeline:
        if isinstance(transform, (list, tuple)):
            sizes.append(training_crop(transform))
            continue
        for key in SIZE_ARGUMENTS.get(transform.get('type'), ()):
            if key == 'padding':
                continue
            value = transform.get(key)
            sizes += list(value) if isinstance(value, (list, tuple)) else [value or 0]
        sizes.append(training_crop(transform.get('transforms', [])))
    return max(sizes, default=0)


class StandIns:
    """The stand-in data sets and checkpoints, each written once (on first use)."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.roots = {}
        self.checkpoints = {}

    def root(self, dataset_cfg, num_classes) -> str:
        """The stand-in of the data set ``dataset_cfg`` reads, for a model of
        ``num_classes`` classes."""
        kind = dataset_cfg.type
        classes = (dataset_cfg.get('metainfo') or {}).get('classes', None)
        key = (kind, num_classes, tuple(classes) if classes else None)
        if key in self.roots:
            return self.roots[key]
        folder = self.tmp.mktemp(kind)
        if kind == 'CustomDataset':
            # two images a class: the semi-supervised configs keep the labels of 10%
            # of every class (at least one), so each class also has an unlabelled one
            standin.write_class_folders(folder, [f'class{i}' for i in range(num_classes)])
        elif kind == 'ImageNet':
            standin.write_imagenet(folder)
        elif kind == 'CIFAR100':
            standin.write_cifar100(folder, num_train=200)
        elif kind == 'StanfordDogs':
            standin.write_stanford_dogs(folder, last_label=num_classes)
        elif kind in standin.FINE_GRAINED_WRITERS:
            standin.FINE_GRAINED_WRITERS[kind](folder)
        elif kind == 'CocoDataset':
            from mmdet.datasets import CocoDataset
            standin.write_coco(folder, classes or CocoDataset.METAINFO['classes'])
        else:
            pytest.fail(f'no stand-in data set for {kind} (the train dataset of this '
                        'config): add a writer to tests/standin_data.py')
        self.roots[key] = str(folder)
        return self.roots[key]

    def backbone_checkpoint(self, registry, backbone_cfg, prefix) -> str:
        """A checkpoint of the backbone ``backbone_cfg`` builds (random weights), its
        tensors named ``<prefix><name>``, as its Pretrained init reads it."""
        backbone_cfg = copy.deepcopy(backbone_cfg)
        backbone_cfg.pop('init_cfg', None)
        key = (json.dumps(backbone_cfg.to_dict(), sort_keys=True, default=str), prefix)
        if key not in self.checkpoints:
            prefix = '' if not prefix else prefix.rstrip('.') + '.'
            state = registry.build(backbone_cfg).state_dict()
            path = str(self.tmp.mktemp('backbone') / 'backbone.pth')
            torch.save({'state_dict': {prefix + k: v for k, v in state.items()}}, path)
            self.checkpoints[key] = path
        return self.checkpoints[key]

    def teacher_checkpoint(self, teacher_config) -> str:
        """A checkpoint of a distiller's teacher (its config's model, random
        weights), as the distiller reads it."""
        if teacher_config not in self.checkpoints:
            self.checkpoints[teacher_config] = standin.write_teacher_checkpoint(
                teacher_config, self.tmp.mktemp('teacher') / 'teacher.pth')
        return self.checkpoints[teacher_config]


@pytest.fixture(scope='module')
def stand_ins(tmp_path_factory):
    return StandIns(tmp_path_factory)


@pytest.fixture(autouse=True)
def _cifar100_stand_in_passes_the_checksum(monkeypatch):
    standin.cifar100_without_checksums(monkeypatch)


def pretrained_inits(node, path='model'):
    """``(config path, init_cfg)`` of every Pretrained init_cfg under ``node``."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            yield path, node
        for key, value in node.items():
            if key != 'init_cfg':
                yield from pretrained_inits(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from pretrained_inits(value, f'{path}.{index}')


def stand_in_cfg(config, cfg, smallest, stand_ins, work_dir):
    """``cfg`` redirected to the stand-ins (see the module docstring)."""
    cfg = copy.deepcopy(cfg)
    scope = cfg.get('default_scope', 'mmpretrain')
    set_size(cfg, smallest)
    loader = cfg.train_dataloader
    dataset = leaf_dataset(loader)
    num_classes = cfg.model.get('head', {}).get('num_classes', None) or \
        cfg.get('data_preprocessor', {}).get('num_classes', None)
    dataset.data_root = stand_ins.root(dataset, num_classes)
    crop = training_crop(dataset.pipeline)
    if crop:
        size = DETECTOR_SIZE if scope == 'mmdet' else CLASSIFIER_SIZE
        scale_sizes(dataset.pipeline, size / crop)
    loader.update(batch_size=2, num_workers=0, persistent_workers=False)
    if 'num_labelled' in (loader.get('batch_sampler', None) or {}):
        loader.batch_sampler.num_labelled = 1
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    for _, module in pretrained_inits(cfg.model):
        with DefaultScope.overwrite_default_scope(scope):
            module.init_cfg.checkpoint = stand_ins.backbone_checkpoint(
                MODELS, module, module.init_cfg.get('prefix'))
    if 'teacher_config' in cfg.model:
        cfg.model.teacher_checkpoint = stand_ins.teacher_checkpoint(
            cfg.model.teacher_config)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = config.replace('/', '_')[:-3]  # one logger per runner
    return cfg


def index_sampler(dataloader):
    """The sampler that draws the indices, under a batch sampler too."""
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    return getattr(batch_sampler, 'sampler', None) or dataloader.sampler


@pytest.mark.parametrize('config', LEAF_CONFIGS)
def test_config_trains_an_iteration_on_a_stand_in_of_its_data(config, groups,
                                                              stand_ins, tmp_path):
    cfg, smallest = groups[config]
    if smallest is None:
        raise cfg  # Config.fromfile failed
    cfg = stand_in_cfg(config, cfg, smallest, stand_ins, tmp_path)
    runner = Runner.from_cfg(cfg)
    stop = StopAfterFirstIteration()
    runner.register_hook(stop)
    with pytest.raises(_FirstIterationDone):
        runner.train()
    assert runner.iter == 0 and stop.batch_size == 2
    assert 'loss' in stop.outputs and all(map(math.isfinite, stop.outputs.values())), \
        stop.outputs

    hooks = {type(hook).__name__ for hook in runner.hooks}
    sampler = type(index_sampler(runner.train_dataloader)).__name__
    if cfg.get('default_scope', 'mmpretrain') == 'mmdet':
        assert DETECTOR_HOOKS <= hooks, DETECTOR_HOOKS - hooks
    else:
        assert CLASSIFIER_HOOKS <= hooks, CLASSIFIER_HOOKS - hooks
        assert sampler == 'ExactResumeSampler'
