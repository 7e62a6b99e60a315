# Add a metafile.yml entry (no result, no weights) for every leaf config under configs/
# that the model index does not list yet, creating the folder's metafile (and its line
# in model-index.yml) where there is none. Entries with the paper's numbers are written
# by hand (configs/README.md, "Adding a method").
#   python tools/misc/update_model_index.py [--dry-run]
import argparse
import glob
import os.path as osp
import re

import yaml
from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER = dict(Title='Contrastive Deep Supervision',
             URL='https://arxiv.org/abs/2207.05306')
# dataset type (or data root) -> the name the index uses
DATASET_NAMES = {'ImageNet': 'ImageNet-1k', 'CIFAR100': 'CIFAR-100',
                 'CIFAR10': 'CIFAR-10', 'CUB': 'CUB-200-2011',
                 'StanfordCars': 'Stanford Cars', 'Flowers102': 'Flowers-102',
                 'FGVCAircraft': 'FGVC-Aircraft', 'StanfordDogs': 'Stanford Dogs',
                 'CocoDataset': 'COCO'}
NOTE = ('No result of this config yet (shorter measured runs, where there are any, '
        'are in docs/results.md). No trained weights yet.')


class _IndentedDumper(yaml.SafeDumper):
    """Indents lists under their key, as mmpretrain's metafiles do."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def dataset_name(cfg) -> str:
    """The index's name of the config's training data set."""
    dataset = cfg.train_dataloader.dataset
    while 'dataset' in dataset and 'type' in dataset and 'data_root' not in dataset:
        dataset = dataset.dataset  # wrappers (semi-supervised, repeat, ...)
    name = str(dataset.get('type', ''))
    if name in DATASET_NAMES:
        return DATASET_NAMES[name]
    root = str(dataset.get('data_root', ''))
    for key, value in (('cifar10', 'CIFAR-10'), ('digits', 'digits')):
        if key in root:
            return value
    return name or 'unknown'


def entry(path: str, collection: str) -> dict:
    """A metafile entry for the config at ``path`` (relative to the repository)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    folder, stem = path.split('/')[-2], osp.splitext(osp.basename(path))[0]
    detection = cfg.get('default_scope', None) == 'mmdet'
    gpus = re.search(r'_(\d+)xb(\d+)', stem)
    gpus = int(gpus.group(1)) if gpus else 1
    data = dataset_name(cfg)
    return {
        'Name': f'{folder}_{stem}',
        'Metadata': {'Training Data': data, 'Epochs': cfg.train_cfg.max_epochs,
                     'Batch Size': gpus * cfg.train_dataloader.batch_size},
        'In Collection': collection,
        'Results': [{'Task': 'Object Detection' if detection else 'Image Classification',
                     'Dataset': data, 'Metrics': {}}],
        'Notes': NOTE, 'Weights': None, 'Config': path,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--dry-run', action='store_true')
    args = parser.parse_args(argv)
    index_path = osp.join(REPO_ROOT, 'model-index.yml')
    index_text = open(index_path).read()
    leaves = sorted(osp.relpath(p, REPO_ROOT) for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in osp.relpath(p, REPO_ROOT).split(osp.sep))
    for folder in sorted({osp.dirname(p) for p in leaves}):
        metafile = osp.join(REPO_ROOT, folder, 'metafile.yml')
        meta = yaml.safe_load(open(metafile)) if osp.isfile(metafile) else None
        listed = {m['Config'] for m in (meta or {}).get('Models', [])}
        missing = [p for p in leaves if osp.dirname(p) == folder and p not in listed]
        if not missing:
            continue
        if meta is None:
            name = osp.basename(folder)
            meta = {'Collections': [{'Name': f'{name} (mmcds)', 'Paper': PAPER,
                                     'README': osp.join(folder, 'README.md')
                                     if osp.isfile(osp.join(REPO_ROOT, folder,
                                                            'README.md'))
                                     else 'README.md'}],
                    'Models': []}
            index_text = index_text.rstrip() + f'\n  - {folder}/metafile.yml\n'
        collection = meta['Collections'][0]['Name']
        new = [entry(p, collection) for p in missing]
        print(f'{folder}/metafile.yml: + {[e["Name"] for e in new]}')
        if args.dry_run:
            continue
        meta['Models'] = list(meta.get('Models') or []) + new
        with open(metafile, 'w') as f:
            yaml.dump(meta, f, Dumper=_IndentedDumper, sort_keys=False, width=88,
                      allow_unicode=True)
    if not args.dry_run:
        open(index_path, 'w').write(index_text)


if __name__ == '__main__':
    main()
