"""The steps of the GPU check that run the project's tools (:mod:`.gpu_check`)."""
import os
import os.path as osp
import re
import signal
import subprocess
import time

from .gpu_check import Check, StepFailed, tail, work_dir_logs

R50 = ('ce', 'dsn', 'cds')
C100 = ('ce', 'cds')
# tools/train.py runs of the resume check: 30 images, batch 8: 4 iterations an
# epoch, 12 in all; checkpoints at iterations 5 and 10 (inside epochs 2 and 3).
RESUME_IMAGES, RESUME_EPOCHS, RESUME_ITERS, RESUME_INTERVAL = 30, 3, 12, 5


def cuda_tests(check: Check, limit: float) -> str:
    """``tests/test_gpu.py`` with pytest (on the CPU every test skips)."""
    argv = [check.python, '-m', 'pytest', '-rs', '-p', 'no:cacheprovider',
            'tests/test_gpu.py']
    status, output = check.command('tests', argv, limit)
    summary = [line for line in output.splitlines()
               if re.search(r'\d+ (passed|failed|skipped|error)', line)]
    text = (f'`{" ".join(argv[1:])}`: {summary[-1].strip("= ") if summary else "?"}'
            + ('' if status == 0 else f'\n\n```\n{tail(output, 60)}\n```'))
    if status != 0:
        raise StepFailed(text)
    return text


def r50_table(check: Check, batch: int, limit: float) -> str:
    configs = [f'configs/{m}/resnet50_8xb32_in1k.py' for m in R50]
    return check.benchmark(f'r50_bs{batch}', configs, batch, check.plan.r50_switches,
                           check.plan.r50_options, limit)


def c100_table(check: Check, limit: float) -> str:
    configs = [f'configs/{m}/resnet18_1xb128_cifar100.py' for m in C100]
    return check.benchmark('c100', configs, check.plan.c100_batch,
                           check.plan.c100_switches, check.plan.c100_options, limit)


def compile_tables(check: Check, limit: float) -> str:
    """``torch.compile`` rows of CE and CDS (first step compiles; see its column)."""
    if not check.plan.compile_runs:
        return ('Left to the GPU: on this CPU dynamo alone takes 15-30 s to trace one '
                "config's train_step (the switch's parsing and its way into the config "
                'are tested in tests/test_benchmark.py).')
    configs = [f'configs/{m}/resnet50_8xb32_in1k.py' for m in ('ce', 'cds')]
    end, texts = time.time() + limit, []
    for batch, switch in check.plan.compile_runs:
        left = end - time.time()
        if left < 20:
            texts.append(f'batch {batch}, {switch}: skipped (time budget spent)')
            continue
        try:
            texts.append(check.benchmark(
                f'compile_bs{batch}', configs, batch, [switch], check.plan.r50_options,
                left, compile_backend=check.plan.compile_backend))
        except StepFailed as error:
            texts.append(f'batch {batch}, {switch}: {error}')
    return '\n\n'.join(texts)


def detection(check: Check, limit: float) -> str:
    """One Faster R-CNN training iteration through ``tools/train.py``, fp32 and
    ``--amp``, on generated digit canvases (COCO format)."""
    from ..demo.digits_data import write_digits_detection
    root = osp.join(check.work, 'digits_coco')
    write_digits_detection(root, num_train=2, num_val=2)
    config = osp.join(check.work, 'faster_rcnn_check.py')
    with open(config, 'w') as f:
        f.write(f"""_base_ = '{check.repo}/configs/demo/faster_rcnn_r18-w16_fpn_digits.py'
data_root = '{root}/'
model = dict(backbone=dict(init_cfg=None))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=100))
""")
    rows, end = [], time.time() + limit
    runs = [('fp32', ())]
    if not check.plan.dry:  # on the CPU --amp refuses detectors (mmcds/engine/amp.py)
        runs.append(('--amp', ('--amp', )))
    for label, extra in runs:
        start = time.time()
        work_dir = osp.join(check.work, f'det_{label}')
        status, output = check.train_tool('detection', config, work_dir,
                                          end - time.time(), '--no-validate', *extra)
        losses = re.findall(r'Epoch\(train\).*?\sloss: ([-\d.naif]+)',
                            work_dir_logs(work_dir))
        rows.append((label, status, losses[-1] if losses else '-', time.time() - start))
        if status != 0:
            raise StepFailed(detection_table(rows) + f'\n\n```\n{tail(output)}\n```')
    return detection_table(rows)


def detection_table(rows) -> str:
    from .report import markdown_table
    return ('`tools/train.py configs/demo/faster_rcnn_r18-w16_fpn_digits.py` (backbone '
            'from scratch, 2 images, 1 iteration, `--no-validate`):\n\n'
            + markdown_table(('run', 'exit', 'loss', 'seconds'),
                             [(label, str(status), loss, f'{seconds:.0f}')
                              for label, status, loss, seconds in rows]))


def resume_config(check: Check) -> str:
    """The CDS CIFAR config of the reliability tests on ``RESUME_IMAGES`` images
    spread over the classes, checkpoints every ``RESUME_INTERVAL`` iterations."""
    from .config_edit import class_counts, spread_indices
    root = check.class_folders()
    indices = spread_indices(sum(class_counts(root, 'train').values()), RESUME_IMAGES)
    path = osp.join(check.work, 'resume_check.py')
    with open(path, 'w') as f:
        f.write(f"""_base_ = '{check.repo}/configs/cds/resnet18-w16_1xb64_cifar10-jpg.py'
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root='{root}', indices={indices}))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
test_cfg = None
train_cfg = dict(max_epochs={RESUME_EPOCHS}, val_interval={RESUME_EPOCHS + 1})
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(
    by_epoch=False, interval={RESUME_INTERVAL}, max_keep_ckpts=5))
""")
    return path


def resume(check: Check, limit: float) -> str:
    """SIGKILL mid-epoch + ``--resume``: final weights against an uninterrupted run.

    The killed run is a ``tools/train.py`` process of its own; the uninterrupted
    run and the resumed one run ``tools/train.py`` in this process (an interpreter
    start costs seconds of imports), all with deterministic kernels."""
    import torch

    import mmcds  # noqa: F401  allow-lists the checkpoint types for weights_only
    end = time.time() + limit
    config = resume_config(check)
    reference = osp.join(check.work, 'resume_reference')
    check.train_in_process('resume', config, reference)
    killed = osp.join(check.work, 'resume_killed')
    killed_at = kill_at_first_checkpoint(check, config, killed, end - time.time())
    output = check.train_in_process('resume', config, killed, '--resume')
    resumed = re.search(r'resumed epoch: (\d+), iter: (\d+)', output)
    if not resumed:
        raise StepFailed(f'the resumed run did not resume:\n\n```\n{tail(output)}\n```')

    def final(work_dir):
        return torch.load(osp.join(work_dir, f'iter_{RESUME_ITERS}.pth'),
                          map_location='cpu', weights_only=True)['state_dict']

    ours, theirs = final(killed), final(reference)
    differ = [k for k in theirs if not torch.equal(ours[k], theirs[k])]
    text = (f'`tools/train.py` on configs/cds/resnet18-w16_1xb64_cifar10-jpg.py '
            f'({RESUME_IMAGES} images, {RESUME_ITERS} iterations, checkpoints every '
            f'{RESUME_INTERVAL}): SIGKILL after `last_checkpoint` named {killed_at}, '
            f'`--resume` went on from iteration {resumed.group(2)} (epoch '
            f'{resumed.group(1)}). Final weights against the uninterrupted run: ')
    if not differ:
        return text + f'**bit-identical** ({len(theirs)} of {len(theirs)} tensors).'
    floats = [k for k in differ if ours[k].is_floating_point()]
    largest = max((float((ours[k].double() - theirs[k].double()).abs().max())
                   for k in floats), default=float('nan'))
    again = osp.join(check.work, 'resume_reference_again')
    check.train_in_process('resume', config, again)
    twice = 'identical' if all(torch.equal(final(again)[k], theirs[k]) for k in theirs) \
        else 'different too (kernels without a deterministic version run here)'
    raise StepFailed(text + f'**{len(differ)} of {len(theirs)} tensors differ** (max '
                     f'|difference| {largest:.3g}, e.g. {differ[:3]}); two uninterrupted '
                     f'runs: {twice}.')


def kill_at_first_checkpoint(check: Check, config: str, work_dir: str,
                             limit: float) -> str:
    """Start ``tools/train.py`` and SIGKILL its process group once ``last_checkpoint``
    names a checkpoint; returns which."""
    argv, env = check.train_command(config, work_dir)
    marker = osp.join(work_dir, 'last_checkpoint')
    with open(osp.join(check.out, 'resume.log'), 'a') as log:
        process = subprocess.Popen(argv, cwd=check.repo, stdout=log,
                                   stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        deadline = time.time() + limit
        while not (osp.exists(marker) and open(marker).read().strip()) \
                and process.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)
        status = process.wait()
    if status != -signal.SIGKILL:
        raise StepFailed(f'the run to kill ended first (exit {status}); see resume.log')
    with open(marker) as f:
        return osp.basename(f.read().strip())
