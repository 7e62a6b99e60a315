from typing import Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from mmcds.datasets import describe_dataset, empty_class_folders, leaf_datasets
from .data_error_hook import built_loop
from .model_data_checks import (class_count_fields, dataset_labels,
                                head_input_channels, subset_note)


def dataset_classes(dataset) -> Optional[Tuple[str, ...]]:
    """``metainfo['classes']`` of a dataset (or of the first dataset it wraps)."""
    metainfo = getattr(dataset, 'metainfo', None) or {}
    classes = metainfo.get('classes', None)
    if classes is None:
        for leaf in leaf_datasets(dataset):
            classes = (getattr(leaf, 'metainfo', None) or {}).get('classes', None)
            if classes is not None:
                break
    return tuple(str(c) for c in classes) if classes is not None else None


def class_difference(a_name: str, a: Sequence[str], b_name: str,
                     b: Sequence[str]) -> str:
    """How two class lists differ: the names only one has, or else the first
    position where the order differs."""
    only_a = [c for c in a if c not in set(b)]
    only_b = [c for c in b if c not in set(a)]
    if only_a or only_b:
        return (f'only in {a_name}: {", ".join(map(repr, only_a)) or "none"}; '
                f'only in {b_name}: {", ".join(map(repr, only_b)) or "none"}')
    index = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    return f'same names in another order: class {index} is {a[index]!r} vs {b[index]!r}'


@HOOKS.register_module()
class ClassCheckHook(Hook):
    """Refuse to start when data sets and model disagree about the classes.

    Runs before the first iteration (``before_train``; ``before_val`` and
    ``before_test`` for ``tools/test.py`` and ``runner.val()``), each check once per
    data set, and raises ``ValueError`` with one line naming the fields:

    - an empty class folder of a class-folder data set (mmpretrain's
      ``CustomDataset`` without ``ann_file``) is an error naming the folder
      (mmpretrain only warns, and keeps the folder as a class with no images);
    - the train data set's ``metainfo['classes']`` must equal the val/test data
      set's, and a checkpoint's (``meta.dataset_meta``) when testing: otherwise
      label k means different classes in the two, and accuracy is silently wrong;
    - ``model.head.num_classes`` (and the other mmpretrain heads',
      ``data_preprocessor.num_classes`` when set) must equal the number of classes,
      rather than failing later with "Target 9 is out of bounds"; so must a
      detector's ``model.bbox_head.num_classes`` (RetinaNet) or
      ``model.roi_head.bbox_head.num_classes`` (Faster R-CNN) against the data
      set's categories (too many would train silently);
    - ``model.head.in_channels`` must equal the width of the features that reach
      the head (one forward pass of backbone and neck on a zero image), rather than
      failing at iteration 1 with "mat1 and mat2 shapes cannot be multiplied".

    It also warns (the run goes on) when a training subset (mmengine's
    ``dataset.indices``) holds images of only some of the classes, e.g.
    ``indices=N`` on class-sorted folders, which takes the first N images: a few
    classes, and a validation score that means nothing.

    Data sets without ``classes`` and models without such heads skip the checks
    that need them, so the hook may be listed for any runner.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._checked = set()
        self._checkpoint_classes: Optional[Tuple[str, ...]] = None
        self._head_checked = False

    def before_train(self, runner) -> None:
        train = runner.train_dataloader.dataset
        self._check(runner, train, 'train_dataloader.dataset')
        self._check_coverage(runner, train, 'train_dataloader.dataset')
        val_loop = built_loop(runner, 'val')
        if val_loop is not None:
            self._check(runner, val_loop.dataloader.dataset, 'val_dataloader.dataset',
                        reference=(train, 'train_dataloader.dataset'))

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader.dataset, 'val_dataloader.dataset',
                    reference=self._train_reference(runner))

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader.dataset, 'test_dataloader.dataset',
                    reference=self._train_reference(runner))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = (checkpoint.get('meta') or {}).get('dataset_meta') or {}
        classes = meta.get('classes') if isinstance(meta, dict) else None
        self._checkpoint_classes = tuple(str(c) for c in classes) \
            if classes is not None else None

    @staticmethod
    def _train_reference(runner):
        train_loop = built_loop(runner, 'train')
        if train_loop is not None:
            return train_loop.dataloader.dataset, 'train_dataloader.dataset'
        return None

    def _check(self, runner, dataset, field: str, reference=None) -> None:
        key = (id(dataset), field)
        if key in self._checked:
            return
        self._check_head_width(self._model(runner))
        for leaf in leaf_datasets(dataset):
            empty = empty_class_folders(leaf)
            if empty:
                raise ValueError(
                    f'ClassCheckHook: {field} = {describe_dataset(leaf)} has '
                    f'{len(empty)} empty class folder(s): {", ".join(empty)}; '
                    'CustomDataset still counts each as a class, so labels and class '
                    'names no longer match the other data sets; remove the folder(s) '
                    'or put their images in')
        classes = dataset_classes(dataset)
        if classes is None:
            self._checked.add(key)
            return
        references = []
        if reference is not None:
            ref_classes = dataset_classes(reference[0])
            if ref_classes is not None:
                references.append((reference[1], ref_classes))
        elif self._checkpoint_classes is not None:
            references.append(('the checkpoint (meta.dataset_meta)',
                               self._checkpoint_classes))
        for ref_field, ref_classes in references:
            if ref_classes != classes:
                raise ValueError(
                    f'ClassCheckHook: {ref_field} has {len(ref_classes)} classes and '
                    f'{field} has {len(classes)}, and they differ '
                    f'({class_difference(ref_field, ref_classes, field, classes)}), '
                    'so a label would name different classes in the two; make the '
                    'class folders (or metainfo classes) the same')
        model = self._model(runner)
        wrong = [(name, value) for name, value in class_count_fields(model)
                 if value != len(classes)]
        if wrong:
            raise ValueError(
                'ClassCheckHook: '
                + ', '.join(f'{name}={value}' for name, value in wrong)
                + f' but {field} has {len(classes)} classes '
                f'({describe_dataset(dataset)}); set '
                + ' and '.join(f'{name}={len(classes)}' for name, _ in wrong))
        self._checked.add(key)

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _check_head_width(self, model) -> None:
        if self._head_checked:
            return
        self._head_checked = True
        in_channels = getattr(getattr(model, 'head', None), 'in_channels', None)
        if type(in_channels) is not int:
            return
        width = head_input_channels(model)
        if width is not None and width != in_channels:
            neck = ' + model.neck' if getattr(model, 'with_neck', False) else ''
            raise ValueError(
                f'ClassCheckHook: model.head.in_channels={in_channels} but the '
                f'features that reach the head (model.backbone{neck}, '
                f'{type(model.backbone).__name__}) have {width} channels; set '
                f'model.head.in_channels={width}')

    def _check_coverage(self, runner, dataset, field: str) -> None:
        """Warn when a training subset (``indices``) covers only some of the
        classes. (A whole data set is not read: listing the labels of ImageNet's
        1.28 M images would take seconds.)"""
        note = subset_note(dataset)
        classes = dataset_classes(dataset)
        if not note or classes is None:
            return
        labels = dataset_labels(dataset)
        if labels is None or not len(labels):
            return
        present = {int(label) for label in labels if label >= 0}
        missing = [name for index, name in enumerate(classes) if index not in present]
        if not missing:
            return
        shown = ', '.join(map(repr, missing[:5])) + (', ...' if len(missing) > 5 else '')
        runner.logger.warning(
            f'ClassCheckHook: {field} = {describe_dataset(dataset)}'
            f'{note} holds images of {len(classes) - len(missing)} of '
            f'its {len(classes)} classes ({len(missing)} without any: {shown}), so '
            'the model never sees them and a validation score on the same subset '
            'means little; indices=N takes the first N images, which in class-sorted '
            'folders are the first classes: pass a list of indices spread over the '
            'classes instead')
