"""The GPU check's reports that need no tool run: the environment, where a training
iteration waits for the GPU, the step list and the targets (:mod:`.gpu_check`)."""
import os
import platform
import re
import shutil
import subprocess
import warnings
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from .report import markdown_table

# The targets on an H100/H200-class GPU (#22, 5).
TARGET_CE_IMAGES, TARGET_CDS_IMAGES, TARGET_RATIO = 2500, 1250, 1.05


def environment_report(check) -> str:
    """GPU, driver, software versions, mmcv's ops and the AMP choice, as a table."""
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import torch

    import mmcds
    from mmpretrain.utils import dependency

    from ..engine.amp import amp_optim_wrapper, native_bf16
    from ..utils.mmcv_ops import mmcv_has_cuda_ops
    rows = [('Python', platform.python_version()),
            ('torch', f'{torch.__version__} (CUDA {torch.version.cuda}, cuDNN '
                      f'{torch.backends.cudnn.version()})'),
            ('CPU cores', str(os.cpu_count()))]
    smi = shutil.which('nvidia-smi')
    if smi:
        query = subprocess.run(
            [smi, '--query-gpu=name,driver_version,memory.total,compute_cap',
             '--format=csv,noheader'], capture_output=True, text=True, timeout=60)
        for index, line in enumerate(query.stdout.strip().splitlines()):
            rows.append((f'GPU {index} (nvidia-smi)', line.strip()))
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        major, minor = torch.cuda.get_device_capability(0)
        rows.append(('GPU used', f'{name}, compute capability {major}.{minor}, native '
                                 f'bfloat16: {native_bf16()}'))
    else:
        rows.append(('GPU used', 'none (torch sees no CUDA device)'))
    try:
        from mmcv.ops import get_compiling_cuda_version
        built = get_compiling_cuda_version()
    except ImportError:
        built = 'no compiled ops'
    rows += [
        ('mmcv', f'{mmcv.__version__}; ops: '
                 f'{"CUDA " + built if mmcv_has_cuda_ops() else "CPU only"}'),
        ('mmengine / mmpretrain / mmdet / mmcds',
         f'{mmengine.__version__} / {mmpretrain.__version__} / {mmdet.__version__} / '
         f'{mmcds.__version__}'),
        ('--amp picks', f'classifiers: {amp_optim_wrapper("mmpretrain")["type"]}, '
                        f'detectors: {amp_for_detectors(amp_optim_wrapper)}'),
        ('mmpretrain multimodal models', 'imported' if dependency.WITH_MULTIMODAL
         else 'not imported'),
        ('TORCH_CUDA_ARCH_LIST', os.environ.get('TORCH_CUDA_ARCH_LIST', '(unset)')),
    ]
    return markdown_table(('what', 'here'), rows, align='ll')


def amp_for_detectors(amp_optim_wrapper) -> str:
    try:
        return amp_optim_wrapper('mmdet')['type']
    except SystemExit:
        return 'refused (no CUDA)'


def step_table(steps: Sequence[Tuple[str, str, float, float]]) -> str:
    return markdown_table(('step', 'status', 'seconds', 'CPU s'),
                          [(name, status, f'{seconds:.0f}', f'{cpu:.0f}')
                           for name, status, seconds, cpu in steps], align='llrr')


def syncs_report(check, iterations: int = 4) -> str:
    """Where a full ``Runner`` training iteration (hooks, logging, checkpoints of the
    shipped runtime) waits for the GPU: ``torch.cuda.set_sync_debug_mode('warn')``
    over ``iterations`` iterations of the resume check's config; the places are
    the Python lines that caused the waits, counted."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from .gpu_check_steps import resume_config
    cfg = Config.fromfile(resume_config(check))
    cfg.work_dir = os.path.join(check.work, 'syncs')
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.train_dataloader.dataset.indices = cfg.train_dataloader.dataset.indices[
        :8 * iterations]
    runner = Runner.from_cfg(cfg)
    cuda = torch.cuda.is_available()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        if cuda:
            torch.cuda.set_sync_debug_mode('warn')
        try:
            runner.train()
        finally:
            if cuda:
                torch.cuda.set_sync_debug_mode(0)
    places = Counter(f'{w.filename.split("site-packages/")[-1]}:{w.lineno}'
                     for w in caught if 'synchronizing' in str(w.message))
    head = (f'{iterations} iterations of a CDS Runner (the shipped runtime\'s hooks) '
            "under `torch.cuda.set_sync_debug_mode('warn')`")
    if not cuda:
        return head + ': no CUDA device, nothing to find (CPU rehearsal ran the Runner).'
    if not places:
        return head + ': no wait for the GPU.'
    return head + ': the lines that waited, and how often:\n\n' + markdown_table(
        ('where', 'waits'), [(where, str(count)) for where, count in
                             places.most_common()])


def read_tables(markdown: str) -> List[Dict[str, str]]:
    """The rows of every markdown table in ``markdown`` as dicts keyed by header."""
    rows, header = [], None
    for line in markdown.splitlines():
        if not line.startswith('|'):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if header is None:
            header = cells
        elif not re.fullmatch(r'[-: |]+', line.strip()):
            rows.append(dict(zip(header, cells)))
    return rows


def _number(cell: Optional[str]) -> Optional[float]:
    try:
        return float(cell.split()[0])
    except (AttributeError, IndexError, ValueError):
        return None


def targets_report(sections: Sequence[Tuple[str, str]], dry_run: bool) -> str:
    """The targets of issue #22 read off the ResNet-50 tables (benchmark and
    compile steps): best training throughput of CE and CDS over switches and batch
    sizes, the largest CDS / plain-CDS and CDS predict / CE medians."""
    rows = [row for name, text in sections
            if name.startswith(('r50_', 'compile')) for row in read_tables(text)
            if 'row' in row]

    def of(method):
        return [row for row in rows if row['row'].rsplit(' ', 1)[0] == method]

    def best(method):
        values = [(v, row['row']) for row in of(method)
                  if (v := _number(row.get('train img/s'))) is not None]
        return max(values) if values else None

    def worst(method, column):
        values = [(v, row['row']) for row in of(method)
                  if (v := _number(row.get(column))) is not None]
        return max(values) if values else None

    checks = [
        ('R50 CE train img/s, best switch', best('CE'), TARGET_CE_IMAGES, '>='),
        ('R50 CDS train img/s, best switch', best('CDS'), TARGET_CDS_IMAGES, '>='),
        ('R50 CDS step / plain CDS step, worst switch', worst('CDS', 'x plain CDS'),
         TARGET_RATIO, '<='),
        ('R50 CDS predict / CE predict, worst switch', worst('CDS', 'predict x CE'),
         TARGET_RATIO, '<='),
    ]
    table = []
    for what, measured, target, sense in checks:
        if measured is None:
            table.append((what, 'not measured', f'{sense} {target}', '-'))
            continue
        value, where = measured
        met = value >= target if sense == '>=' else value <= target
        table.append((what, f'{value:g} ({where})', f'{sense} {target}',
                      'yes' if met else 'NO'))
    note = ('\n\nDry run on the CPU with tiny models: these say only that the tables '
            'were read.') if dry_run else ''
    return '## targets\n\n' + markdown_table(('target', 'measured', 'wanted', 'met'),
                                             table, align='llll') + note
