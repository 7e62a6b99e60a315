from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import BaseLoop

from mmcds.datasets import wrap_pipeline


def built_loop(runner, name: str):
    """``runner.{name}_loop`` if it is already built, else None (never builds one:
    building a loop builds its dataset)."""
    loop = getattr(runner, f'_{name}_loop', None)
    return loop if isinstance(loop, BaseLoop) else None


@HOOKS.register_module()
class DataErrorHook(Hook):
    """Name the data set, the sample and the file when a sample cannot be loaded.

    Without it, a zero-byte JPEG stops training with a cv2 assertion that names no
    file, and no error says which data set (train/val/test) the file belongs to.
    The hook wraps the pipeline of every dataset the runner uses in
    :class:`~mmcds.datasets.SamplePipeline` before its dataloader starts workers
    (``before_train`` for train and val, ``before_val``, ``before_test``); an
    exception in the pipeline then becomes one line such as::

        SampleLoadError: train_dataloader.dataset = CustomDataset(data_root='data',
        data_prefix='train'): sample 13: image file data/train/cat/0003.jpg is
        empty (0 bytes); replace or remove it (tools/misc/check_data.py lists every
        such file) [error: OpenCV(4.x) ... !buf.empty() in function 'imdecode_']

    To find every bad file before a long run instead of the first one during it,
    use ``tools/train.py --check-data`` or ``tools/misc/check_data.py``.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        wrap_pipeline(runner.train_dataloader.dataset, 'train_dataloader.dataset')
        val_loop = built_loop(runner, 'val')
        if val_loop is not None:
            wrap_pipeline(val_loop.dataloader.dataset, 'val_dataloader.dataset')

    def before_val(self, runner) -> None:
        wrap_pipeline(runner.val_dataloader.dataset, 'val_dataloader.dataset')

    def before_test(self, runner) -> None:
        wrap_pipeline(runner.test_dataloader.dataset, 'test_dataloader.dataset')
