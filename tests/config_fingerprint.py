"""Fingerprints of what a config trains: the parts that must keep their meaning when
the config files are reorganised (configs/README.md).

``python tests/config_fingerprint.py --write`` (run in the tree whose configs are the
reference) stores them in tests/config_fingerprints.json; test_configs.py
compares every listed config's merged fields against it.
"""
import argparse
import contextlib
import glob
import hashlib
import json
import os
import os.path as osp
import re
import sys

from mmengine.config import Config

FIELDS = ('model', 'data_preprocessor', 'optim_wrapper', 'param_scheduler', 'train_cfg',
          'train_dataloader.batch_size', 'train_dataloader.dataset.pipeline',
          'val_evaluator', 'test_evaluator', 'custom_hooks')
# Fields renamed since the stored fingerprints were taken: old -> new, with a function
# turning the old value into the new one.
RENAMED_FIELDS = {
    'aux_stages': ('exit_stages', list),
    'aux_exit': ('exit_type', str),
    'aux_loss_weight': ('exit_loss_weight', float),
    'selfcon_pos': ('exit_stages', lambda flags: [i for i, f in enumerate(flags) if f]),
}
FINGERPRINT_FILE = osp.join(osp.dirname(osp.abspath(__file__)),
                            'config_fingerprints.json')
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def config_environment_variables() -> list:
    """The environment variables the configs read (``{{$NAME:default}}``, e.g. the
    data roots MMCDS_COCO128 and MMCDS_CIFAR10)."""
    names = set()
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True):
        with open(path) as f:
            # mmengine's pattern (Config._substitute_env_variables)
            names.update(re.findall(r'\{\{[\'\"]?\s*\$(\w+)\s*\:', f.read()))
    return sorted(names)


CONFIG_ENVIRONMENT_VARIABLES = config_environment_variables()


@contextlib.contextmanager
def config_defaults():
    """The configs' own defaults for the body: the variables they read are unset."""
    saved = {name: os.environ.pop(name) for name in CONFIG_ENVIRONMENT_VARIABLES
             if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _canonical(value):
    """Plain JSON data: dicts with sorted keys, tuples as lists, old names renamed."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in RENAMED_FIELDS:
                key, convert = RENAMED_FIELDS[key]
                item = convert(item)
            out[key] = _canonical(item)
        return dict(sorted(out.items()))
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def _field(cfg, dotted: str):
    node = cfg
    for part in dotted.split('.'):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def fingerprint(config_path: str) -> dict:
    """``{field: sha256 of its canonical JSON}`` of the merged config, with the
    configs' defaults for what they read from the environment (a data root set in
    the environment changes no fingerprint)."""
    with config_defaults():
        cfg = Config.fromfile(config_path, import_custom_modules=False)
    cfg = cfg.to_dict()
    return {
        field: hashlib.sha256(json.dumps(_canonical(_field(cfg, field)),
                                         sort_keys=True).encode()).hexdigest()[:16]
        for field in FIELDS
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('configs', nargs='+', help='config files (relative paths)')
    parser.add_argument('--write', action='store_true',
                        help=f'store the fingerprints in {FINGERPRINT_FILE}')
    args = parser.parse_args(argv)
    prints = {path: fingerprint(path) for path in args.configs}
    if args.write:
        os.makedirs(osp.dirname(FINGERPRINT_FILE), exist_ok=True)
        with open(FINGERPRINT_FILE, 'w') as f:
            json.dump(prints, f, indent=1, sort_keys=True)
    json.dump(prints, sys.stdout, indent=1)


if __name__ == '__main__':
    main()
