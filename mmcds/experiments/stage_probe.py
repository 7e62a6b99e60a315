"""Linear probe and t-SNE of every backbone stage of trained classifiers.

Behind ``tools/analysis_tools/stage_probe.py``. For each model (a config and a
checkpoint: any of our classifiers, a distiller's student, or a plain mmpretrain
``ImageClassifier``) the backbone is rebuilt with ``out_indices`` = every stage and
each stage output :math:`f_k` (N, C_k, H_k, W_k) is global-average-pooled to
:math:`\\bar f_k = \\frac{1}{H_k W_k}\\sum_{h,w} f_k[:, :, h, w]` (N, C_k). Per stage a
multinomial logistic regression (scikit-learn, L2 with inverse strength ``C``, on
features standardised with the train split's mean and std) is fitted on the train
split and scored (top-1) on the test split; a 2-D t-SNE of the test features is drawn.

Only the classifier part of a checkpoint is read (``backbone.``, ``neck.``,
``head.``, as ``ImageClassifier`` names them; exits, projection heads, adapters are
ignored), with ``torch.load(weights_only=True)``; a missing key or another shape is
refused. Images go through the config's test pipeline and data preprocessor, i.e.
the preprocessing the model was evaluated with.
"""
import copy
import json
import os
import os.path as osp
import time
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from ..utils.launch import merge_cfg_options
from .config_edit import class_counts, spread_indices
from .report import machine_description, utc_now
from .stage_probe_report import (markdown_report, plot_probe_accuracy,
                                 plot_tsne_grid)

RANDOM_INIT = 'none'  # the checkpoint argument for a randomly initialised model


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """A config file, or ``mmpretrain::<path under its configs/>``, with options merged.

    Raises:
        FileNotFoundError: no such config file.
    """
    if path.startswith('mmpretrain::'):
        import mmpretrain
        path = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs',
                        path[len('mmpretrain::'):])
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path} (give a config path, '
                                'or mmpretrain::resnet/resnet18_8xb16_cifar10.py)')
    cfg = Config.fromfile(path)
    merge_cfg_options(cfg, cfg_options)
    return cfg


def count_stages(backbone: nn.Module, owner: str) -> int:
    """The number of stages of a backbone that returns one map per ``out_indices``.

    ResNet-style backbones (``res_layers``: mmpretrain's ResNet, ResNet_CIFAR,
    ResNeXt, SEResNet and ours) and others with an int ``num_stages`` and an
    ``out_indices``.

    Raises:
        ValueError: neither is there.
    """
    layers = getattr(backbone, 'res_layers', None)
    if layers is not None:
        return len(layers)
    num_stages = getattr(backbone, 'num_stages', None)
    if isinstance(num_stages, int) and hasattr(backbone, 'out_indices'):
        return num_stages
    raise ValueError(f'{owner}.backbone: {type(backbone).__name__} has neither '
                     '`res_layers` nor `num_stages` + `out_indices`, so its stages '
                     'cannot be told apart; the stage probe handles ResNet-style '
                     'backbones')


def eval_pipeline(cfg: Config, owner: str) -> Tuple[List[dict], bool]:
    """The config's test pipeline, reading images from files.

    ``(pipeline, prepended)``: the test (else val) dataloader's pipeline; when it
    has no ``LoadImageFromFile`` (an in-memory data set such as mmpretrain's
    ``CIFAR10``), one is prepended and ``prepended`` is True.

    Raises:
        ValueError: the config has no test or val dataloader pipeline.
    """
    for field in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(field, None)
        pipeline = loader and loader.get('dataset', {}).get('pipeline', None)
        if pipeline:
            pipeline = [copy.deepcopy(dict(step)) for step in pipeline]
            if any(step.get('type') == 'LoadImageFromFile' for step in pipeline):
                return pipeline, False
            return [dict(type='LoadImageFromFile')] + pipeline, True
    raise ValueError(f'{owner}: the config has no test_dataloader.dataset.pipeline '
                     '(nor a val one) to preprocess the images with')


class StageModel(nn.Module):
    """A classifier's data preprocessor, backbone (every stage out), neck and head.

    Args:
        classifier (nn.Module): an ``ImageClassifier`` whose backbone returns every
            stage.
        num_stages (int): the backbone's stage count.
        head_stage (int): the 0-based stage the neck and head read, as in the
            original config (its last ``out_indices`` entry).
    """

    def __init__(self, classifier: nn.Module, num_stages: int, head_stage: int):
        super().__init__()
        self.classifier = classifier
        self.num_stages = num_stages
        self.head_stage = head_stage

    @torch.no_grad()
    def forward(self, batch: dict) -> Tuple[List[torch.Tensor], torch.Tensor,
                                            torch.Tensor]:
        """Pooled stage features, logits and labels of a collated batch.

        Returns:
            tuple: ``[(N, C_k)] * num_stages`` global-average-pooled stage outputs,
            ``(N, num_classes)`` logits of the head on stage ``head_stage`` (through
            the neck), ``(N,)`` labels.
        """
        model = self.classifier
        data = model.data_preprocessor(batch, False)
        stages = model.backbone(data['inputs'])
        if len(stages) != self.num_stages:
            raise ValueError(f'the backbone returned {len(stages)} outputs for '
                             f'{self.num_stages} stages')
        pooled = [F.adaptive_avg_pool2d(s, 1).flatten(1) for s in stages]
        x = (stages[self.head_stage], )
        if model.with_neck:
            x = model.neck(x)
        logits = model.head(x)
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        return pooled, logits, labels


def build_stage_model(cfg: Config, checkpoint: str, owner: str,
                      flip_channels: bool = False, seed: int = 0
                      ) -> Tuple[StageModel, dict]:
    """The :class:`StageModel` of a config and checkpoint, in eval mode.

    Builds an ``ImageClassifier`` from ``cfg.model``'s backbone (``out_indices`` =
    every stage), neck, head and data preprocessor (``cfg.model``'s, else the
    config's, as the Runner merges it), and loads the checkpoint's
    ``backbone.``/``neck.``/``head.`` tensors. ``checkpoint='none'``: no loading,
    PyTorch's default initialisation after ``torch.manual_seed(seed)``.
    ``flip_channels`` inverts the preprocessor's ``to_rgb`` (for images read as BGR
    by a prepended ``LoadImageFromFile`` where the config's data set gave RGB).

    Returns:
        tuple: the model and ``{'num_stages', 'head_stage', 'num_classes',
        'checkpoint_classes' (the training set's class names, or None),
        'ignored' (checkpoint prefixes not loaded)}``.

    Raises:
        FileNotFoundError: the checkpoint file is missing.
        CheckpointError: not a checkpoint, or no backbone in it.
        ValueError: no backbone/head in the config, an unsupported backbone, or a
            checkpoint that does not fit (missing keys, other shapes).
    """
    from mmpretrain.registry import MODELS

    from mmcds.utils.checkpoint import load_checkpoint_file

    model_cfg = cfg.get('model', None)
    if not model_cfg or 'backbone' not in model_cfg or 'head' not in model_cfg:
        raise ValueError(f'{owner}: config.model needs a backbone and a head (an '
                         'image classifier), got '
                         f'{sorted(model_cfg) if model_cfg else model_cfg}')
    state = None
    if checkpoint != RANDOM_INIT:
        state = load_checkpoint_file(checkpoint)  # refuses missing/unsafe files early
    backbone_cfg = copy.deepcopy(model_cfg.backbone)
    probe = MODELS.build(copy.deepcopy(backbone_cfg))
    num_stages = count_stages(probe, owner)
    out_indices = getattr(probe, 'out_indices', (num_stages - 1, ))
    out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
    head_stage = int(out_indices[-1]) % num_stages
    backbone_cfg.out_indices = tuple(range(num_stages))

    preprocessor = model_cfg.get('data_preprocessor', None) or \
        cfg.get('data_preprocessor', None) or {}
    preprocessor = copy.deepcopy(dict(preprocessor))
    if flip_channels:
        if preprocessor.get('bgr_to_rgb') or preprocessor.get('rgb_to_bgr'):
            raise ValueError(f'{owner}.data_preprocessor: bgr_to_rgb/rgb_to_bgr are '
                             'not handled when images are read from files; use to_rgb')
        preprocessor['to_rgb'] = not preprocessor.get('to_rgb', False)
    torch.manual_seed(seed)
    classifier = MODELS.build(
        dict(type='ImageClassifier', backbone=backbone_cfg,
             neck=copy.deepcopy(model_cfg.get('neck', None)),
             head=copy.deepcopy(model_cfg.head), data_preprocessor=preprocessor))
    ignored: List[str] = []
    checkpoint_classes = None
    if state is not None:
        ours = classifier.state_dict()
        loaded = {k: v for k, v in state['state_dict'].items() if k in ours}
        ignored = sorted({k.split('.')[0] for k in state['state_dict']
                          if k not in ours})
        missing = sorted(set(ours) - set(loaded))
        if missing:
            raise ValueError(
                f'{owner}: {checkpoint} does not fit the config: it lacks '
                f'{len(missing)} of the classifier\'s tensors (e.g. {missing[:3]}); '
                'give the config the checkpoint was trained with')
        wrong = [k for k, v in loaded.items() if v.shape != ours[k].shape]
        if wrong:
            raise ValueError(
                f'{owner}: {checkpoint} does not fit the config: {wrong[0]} has shape '
                f'{tuple(loaded[wrong[0]].shape)} in the file, '
                f'{tuple(ours[wrong[0]].shape)} in the model (and {len(wrong) - 1} '
                'more); give the config the checkpoint was trained with (and the '
                'same --cfg-options)')
        classifier.load_state_dict(loaded, strict=True)
        classes = (state['meta'].get('dataset_meta') or {}).get('classes')
        checkpoint_classes = list(classes) if classes else None
    classifier.eval()
    info = dict(num_stages=num_stages, head_stage=head_stage,
                num_classes=getattr(classifier.head, 'num_classes', None),
                checkpoint_classes=checkpoint_classes, ignored=ignored,
                random_init=state is None, seed=seed)
    return StageModel(classifier, num_stages, head_stage).eval(), info


def class_folder_dataset(data_root: str, prefix: str, pipeline: List[dict],
                         max_images: Optional[int]):
    """mmpretrain's ``CustomDataset`` on ``data_root/prefix`` (class folders).

    With ``max_images``, that many images spread evenly over the class-sorted list
    (:func:`~mmcds.experiments.config_edit.spread_indices`), so every class stays.

    Raises:
        FileNotFoundError: no such folder, or no class folder with images.
    """
    from mmpretrain.registry import DATASETS

    counts = class_counts(data_root, prefix)
    indices = spread_indices(sum(counts.values()), max_images)
    dataset = dict(type='CustomDataset', data_root=osp.abspath(data_root),
                   data_prefix=prefix, pipeline=pipeline)
    if indices is not None:
        dataset['indices'] = indices
    return DATASETS.build(dataset)


def extract_features(model: StageModel, dataset, batch_size: int = 128,
                     device: str = 'cpu', num_workers: int = 0) -> dict:
    """Every stage's pooled features, the head's logits and the labels of a data set.

    Returns:
        dict: ``features`` ``[(N, C_k) float32 arrays]``, ``logits``
        ``(N, num_classes)``, ``labels`` ``(N,)`` int64, in the data set's order.
    """
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=pseudo_collate)
    model.classifier.to(device)  # BaseModel.to moves its data preprocessor too
    features: List[List[np.ndarray]] = [[] for _ in range(model.num_stages)]
    logits, labels = [], []
    for batch in loader:
        pooled, batch_logits, batch_labels = model(batch)
        for store, feats in zip(features, pooled):
            store.append(feats.float().cpu().numpy())
        logits.append(batch_logits.float().cpu().numpy())
        labels.append(batch_labels.cpu().numpy())
    return dict(features=[np.concatenate(f) for f in features],
                logits=np.concatenate(logits),
                labels=np.concatenate(labels).astype(np.int64))


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                 test_y: np.ndarray, c: float = 1.0, max_iter: int = 1000) -> dict:
    """Top-1 of a logistic regression fitted on the train features.

    Features are standardised with the train split's per-dimension mean and std
    (``StandardScaler``), then a multinomial ``LogisticRegression`` (L2, inverse
    strength ``c``, lbfgs, ``max_iter``) is fitted; top-1 = % of test rows whose
    arg-max class is the label, with its binomial standard error
    :math:`100\\sqrt{p(1-p)/n}`.

    Returns:
        dict: ``top1`` (%), ``se`` (%), ``iterations``, ``converged``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # reported as converged
        probe.fit(scaler.transform(train_x), train_y)
    correct = probe.predict(scaler.transform(test_x)) == test_y
    p = float(correct.mean())
    iterations = int(np.max(probe.n_iter_))
    return dict(top1=100 * p, se=100 * float(np.sqrt(p * (1 - p) / len(test_y))),
                iterations=iterations, converged=iterations < max_iter)


def tsne_embedding(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 2) t-SNE of (N, C) features (PCA init, perplexity min(30, (N - 1) / 3))."""
    from sklearn.manifold import TSNE
    perplexity = min(30., (len(features) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init='pca',
                random_state=seed).fit_transform(features.astype(np.float64))


def check_inputs(models: Sequence[Tuple[str, str, str]], data_root: str,
                 train_prefix: str, test_prefix: str) -> List[str]:
    """Refuse before any work: missing config or checkpoint files, a data root
    without matching train/test class folders. Returns the class names.

    Raises:
        FileNotFoundError, ValueError: with the offending path.
    """
    for name, config, checkpoint in models:
        if not config.startswith('mmpretrain::') and not osp.isfile(config):
            raise FileNotFoundError(f'--model {name}: config file not found: {config}')
        if checkpoint != RANDOM_INIT and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'--model {name}: checkpoint file not found: '
                                    f"{checkpoint} (give '{RANDOM_INIT}' for a "
                                    'randomly initialised model)')
    train = class_counts(data_root, train_prefix)
    test = class_counts(data_root, test_prefix)
    if list(train) != list(test):
        raise ValueError(f'{train_prefix}/ and {test_prefix}/ under {data_root} have '
                         f'different class folders: {list(train)} vs {list(test)}')
    return list(train)


def classifier_reference(info: dict, logits: np.ndarray, labels: np.ndarray,
                         classes: Sequence[str]) -> Tuple[Optional[float], str]:
    """The classifier's own test top-1 (%), or None with the reason it does not apply
    (a head for another class count, or a checkpoint trained on other classes)."""
    if info['random_init']:
        return None, f"random init (seed {info['seed']}): no trained head to score"
    if info['num_classes'] != len(classes):
        return None, (f"its head has {info['num_classes']} classes, the data set "
                      f'{len(classes)}')
    trained = info['checkpoint_classes']
    if trained is not None and list(trained) != list(classes):
        return None, (f'it was trained on the classes {list(trained)[:5]}..., not '
                      f'the class folders {list(classes)[:5]}...')
    note = '' if trained is not None else \
        'the checkpoint names no classes: class folders taken in its class order'
    return 100 * float((logits.argmax(1) == labels).mean()), note


def run_stage_probe(args, argv: Sequence[str]) -> dict:
    """Run the probe for ``args.model`` (``[(name, config, checkpoint)]``); write
    ``stage_probe.md``, ``stage_probe.json``, ``probe_accuracy.png`` and
    ``tsne.png`` (unless ``args.tsne_samples`` is 0) to ``args.work_dir``.

    Returns:
        dict: what ``stage_probe.json`` holds.
    """
    from mmengine.registry import init_default_scope
    from threadpoolctl import threadpool_limits

    started = time.time()
    init_default_scope('mmpretrain')
    classes = check_inputs(args.model, args.data_root, args.train_prefix,
                           args.test_prefix)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    results, embeddings, tsne_labels = [], {}, None
    with threadpool_limits(args.threads if args.threads > 0 else None):
        for name, config, checkpoint in args.model:
            t0 = time.time()
            cfg = load_config(config, args.cfg_options)
            pipeline, prepended = eval_pipeline(cfg, name)
            model, info = build_stage_model(cfg, checkpoint, name,
                                            flip_channels=prepended, seed=args.seed)
            splits = {}
            for split, prefix, limit in (('train', args.train_prefix, args.max_train),
                                         ('test', args.test_prefix, args.max_test)):
                dataset = class_folder_dataset(args.data_root, prefix, pipeline, limit)
                splits[split] = extract_features(model, dataset, args.batch_size,
                                                 args.device, args.num_workers)
            t1 = time.time()
            train, test = splits['train'], splits['test']
            probe = [linear_probe(tr, train['labels'], te, test['labels'],
                                  args.probe_c, args.probe_max_iter)
                     for tr, te in zip(train['features'], test['features'])]
            t2 = time.time()
            reference, note = classifier_reference(info, test['logits'],
                                                   test['labels'], classes)
            notes = [note] if note else []
            if prepended:
                notes.append('the test pipeline read no files: LoadImageFromFile '
                             'prepended and the preprocessor\'s to_rgb inverted')
            if info['ignored']:
                notes.append(f"not used from the checkpoint: {info['ignored']}")
            # One t-SNE row per name: repeats of a name (seeds) share a row.
            if args.tsne_samples > 0 and name not in embeddings:
                keep = spread_indices(len(test['labels']), args.tsne_samples)
                keep = np.arange(len(test['labels'])) if keep is None else \
                    np.array(keep)
                tsne_labels = test['labels'][keep]
                embeddings[name] = [tsne_embedding(f[keep], args.seed)
                                    for f in test['features']]
            t3 = time.time()
            results.append(dict(
                name=name, config=config, checkpoint=checkpoint,
                stage_dims=[int(f.shape[1]) for f in test['features']],
                head_stage=info['head_stage'] + 1, probe=probe,
                classifier_top1=reference, notes=notes,
                seconds=dict(features=t1 - t0, probe=t2 - t1, tsne=t3 - t2)))
            print(f'{name}: probe top-1 per stage '
                  + ', '.join(f"{p['top1']:.1f}" for p in probe)
                  + (f'; classifier {reference:.1f}' if reference is not None else '')
                  + f' ({t3 - t0:.0f} s)', flush=True)
    report = dict(
        command='python tools/analysis_tools/stage_probe.py ' + ' '.join(argv),
        date_utc=utc_now(), machine=machine_description(),
        data=dict(root=osp.abspath(args.data_root), train_prefix=args.train_prefix,
                  test_prefix=args.test_prefix, classes=classes,
                  train_images=int(len(train['labels'])),
                  test_images=int(len(test['labels']))),
        probe=dict(c=args.probe_c, max_iter=args.probe_max_iter),
        tsne_samples=args.tsne_samples, seed=args.seed, models=results,
        seconds=time.time() - started)
    with open(osp.join(args.work_dir, 'stage_probe.json'), 'w') as f:
        json.dump(report, f, indent=1)
    plot_probe_accuracy(results, osp.join(args.work_dir, 'probe_accuracy.png'))
    if embeddings:
        plot_tsne_grid(embeddings, tsne_labels, classes,
                       osp.join(args.work_dir, 'tsne.png'))
    with open(osp.join(args.work_dir, 'stage_probe.md'), 'w') as f:
        f.write(markdown_report(report))
    print(f"wrote {args.work_dir}/stage_probe.md ({report['seconds']:.0f} s)")
    return report
