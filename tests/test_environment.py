"""What ``import mmcds`` checks first (issue #22, 1-2): the supported Python and torch,
named with the range when outside it, and mmpretrain imported without its multimodal
models where the installed transformers (a stand-in of transformers 5 here) breaks
them. The import checks run in fresh interpreters, as a user meets them."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO_ROOT
from mmcds.utils.environment import (MMPRETRAIN_NEEDS, python_problem, release,
                                     torch_problem, torchvision_for)

HELPER = osp.join(REPO_ROOT, 'mmcds', 'utils', 'environment.py')
# What transformers 5 no longer has of what mmpretrain 1.2.0's BLIP imports
# (blip/language_model.py: `from transformers.modeling_utils import ...`).
REMOVED_IN_5 = {'transformers.modeling_utils': (
    'apply_chunking_to_forward', 'find_pruneable_heads_and_indices',
    'prune_linear_layer')}


def python(code: str, *, path=(), env=None, timeout=300):
    """``code`` in a fresh interpreter of this environment, the worktree first."""
    environment = dict(os.environ, OMP_NUM_THREADS='1', **(env or {}))
    environment['PYTHONPATH'] = os.pathsep.join([*path, REPO_ROOT])
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=environment, timeout=timeout)


def write_transformers_standin(root, version='5.0.0', removed=REMOVED_IN_5):
    """A package ``transformers`` (and its dist-info, which mmpretrain's dependency
    check reads) in which every module of ``MMPRETRAIN_NEEDS`` hands out a stand-in
    class for any name but the ``removed`` ones: importing mmpretrain's models then
    fails as with the real transformers 5 (BLIP's ``try: from transformers.modeling_utils
    import ...`` falls back to None, and ``class BertPreTrainedModel(None)`` raises)."""
    packages = {name.rsplit('.', 1)[0] for name in MMPRETRAIN_NEEDS if '.' in name}
    for name in sorted(set(MMPRETRAIN_NEEDS) | packages):
        parts = name.split('.')
        path = osp.join(root, *parts, '__init__.py') if name in packages \
            else osp.join(root, *parts[:-1], parts[-1] + '.py')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(f'''
                __version__ = {version!r}
                _made = {{}}

                class _Permissive(type):  # any class attribute: a do-nothing function
                    def __getattr__(cls, attr):
                        if attr.startswith('__'):
                            raise AttributeError(attr)
                        return lambda *args, **kwargs: None

                def __getattr__(name):
                    if name.startswith('__') or name in {removed.get(name, ())!r}:
                        raise AttributeError(name)
                    base = ()
                    if name.startswith('AutoModel'):  # mmpretrain registers them
                        from transformers.models.auto import auto_factory
                        base = (auto_factory._BaseAutoModelClass, )
                    return _made.setdefault(name, _Permissive(name, base, {{}}))
                '''))
            if name.endswith('auto_factory'):
                f.write('class _BaseAutoModelClass:\n'
                        '    from_config = classmethod(lambda cls, config: cls())\n')
    info = osp.join(root, f'transformers-{version}.dist-info')
    os.makedirs(info)
    with open(osp.join(info, 'METADATA'), 'w') as f:
        f.write(f'Metadata-Version: 2.1\nName: transformers\nVersion: {version}\n')
    return str(root)


@pytest.mark.parametrize('version, supported', [
    ((3, 9, 18), False), ((3, 10, 0), True), ((3, 11, 7), True), ((3, 13, 0), True),
    ((3, 14, 0), False)])
def test_python_range(version, supported):
    problem = python_problem(version)
    assert (problem is None) is supported
    if not supported:
        assert f'Python {".".join(map(str, version))}' in problem
        assert 'supports Python 3.10-3.13' in problem


@pytest.mark.parametrize('version, supported', [
    ('2.3.1+cu121', False), ('2.4.0', True), ('2.11.0+cu130', True),
    ('2.14.1+cu130', True), ('2.15.0.dev20270101+cu130', False), ('3.0.0', False)])
def test_torch_range(version, supported):
    problem = torch_problem(version)
    assert (problem is None) is supported
    if not supported:
        assert f'this is torch {version}' in problem
        assert 'supports torch >= 2.4, < 2.15' in problem
        assert '\n' not in problem


def test_release_and_torchvision_pairing():
    assert release('2.11.0+cu130') == (2, 11, 0)
    assert release('2.15.0a0+git1234') == (2, 15, 0)
    assert torchvision_for('2.14.1+cu130') == '0.29.1'  # requirements/torch.txt's pair
    assert torchvision_for('2.11.0+cu130') == '0.26.0'
    assert torchvision_for('2.4') == '0.19.0'
    with pytest.raises(ValueError, match='torch 1.13.1'):
        torchvision_for('1.13.1')


def test_installer_helper_with_real_interpreters():
    """What scripts/install.sh runs before anything is installed, with the system's
    interpreters: an old Python is refused by name, a supported one passes."""
    assert subprocess.run([sys.executable, '-I', HELPER, 'check-python']).returncode == 0
    out = subprocess.run([sys.executable, '-I', HELPER, 'check-torch', '2.3.1'],
                         capture_output=True, text=True)
    assert out.returncode == 1 and 'this is torch 2.3.1' in out.stderr
    out = subprocess.run([sys.executable, '-I', HELPER, 'torchvision-for', '2.12.0'],
                         capture_output=True, text=True)
    assert out.stdout.strip() == '0.27.0'
    old = osp.expanduser('~/.pyenv/versions/3.9.18/bin/python')
    if not os.access(old, os.X_OK):
        pytest.skip('no Python 3.9 at ' + old)
    out = subprocess.run([old, '-I', HELPER, 'check-python'], capture_output=True,
                         text=True)
    assert out.returncode == 1
    assert 'supports Python 3.10-3.13; this is Python 3.9.18' in out.stderr


def test_import_refuses_an_unsupported_torch():
    out = python("import torch; torch.__version__ = '2.3.1+cu121'; import mmcds")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith('ImportError: mmcds supports torch >= 2.4, < 2.15; this is '
                           'torch 2.3.1+cu121'), out.stderr[-2000:]


def test_import_refuses_an_unsupported_python():
    out = python('import sys, torch, mmengine.config  # (yapf reads version_info)\n'
                 'sys.version_info = (3, 9, 18, "final", 0)\n'
                 'import mmcds')
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].startswith(
        'ImportError: mmcds supports Python 3.10-3.13; this is Python 3.9.18'), \
        out.stderr[-2000:]


def test_transformers_5_standin_breaks_mmpretrain_as_reported(tmp_path):
    """The stand-in reproduces the failure of the GPU machine: without mmcds,
    importing mmpretrain's models dies in BLIP's language model."""
    standin = write_transformers_standin(tmp_path / 'site')
    out = python('import mmpretrain.models', path=[standin])
    assert out.returncode != 0
    assert 'blip/language_model.py' in out.stderr
    assert out.stderr.strip().splitlines()[-1] == \
        'TypeError: NoneType takes no arguments'


def test_import_mmcds_with_transformers_5_imports_mmpretrain_without_multimodal(
        tmp_path):
    standin = write_transformers_standin(tmp_path / 'site')
    out = python(textwrap.dedent('''
        import mmcds, mmpretrain.models
        from mmpretrain.registry import MODELS
        from mmpretrain.utils.dependency import WITH_MULTIMODAL
        print('multimodal', WITH_MULTIMODAL)
        print('CDSClassifier', MODELS.get('CDSClassifier').__module__)
        try:
            MODELS.build(dict(type='BlipCaption'))
        except ImportError as error:
            print('BlipCaption:', error)
        '''), path=[standin])
    assert out.returncode == 0, out.stderr[-3000:]
    lines = (out.stdout + out.stderr).splitlines()
    warning = [line for line in lines if 'transformers 5.0.0' in line]
    assert len(warning) == 1, lines
    assert 'pip install "transformers<5"' in warning[0]
    assert 'transformers.modeling_utils has no apply_chunking_to_forward' in warning[0]
    assert 'multimodal False' in lines
    assert 'CDSClassifier mmcds.models.classifiers.cds_classifier' in lines
    # mmpretrain's placeholder (its message names the last placeholder registered)
    assert any(line.startswith('BlipCaption: ') and 'requires extra multi-modal' in line
               for line in lines)


def test_a_working_transformers_is_left_alone(tmp_path):
    """A transformers that has every name mmpretrain imports (the stand-in without
    removals) is left alone: nothing is seeded, mmpretrain keeps its multimodal models.
    The module is loaded by path (``import mmcds`` would import mmpretrain's models,
    which a stand-in cannot carry through)."""
    code = textwrap.dedent(f'''
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location('environment', {HELPER!r})
        environment = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(environment)
        print(environment.transformers_problem())
        print(environment.import_mmpretrain())
        print('mmpretrain.utils.dependency' in sys.modules, 'mmpretrain' in sys.modules)
        ''')
    whole = write_transformers_standin(tmp_path / 'whole', version='4.40.0', removed={})
    out = python(code, path=[whole])
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ['None', 'None', 'False', 'False']
    broken = write_transformers_standin(tmp_path / 'broken')
    out = python(code, path=[broken])
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0] == ('transformers.modeling_utils has no apply_chunking_to_forward, '
                        'find_pruneable_heads_and_indices, prune_linear_layer')
    assert lines[-1] == 'True True'  # seeded with the flag off, mmpretrain imported
