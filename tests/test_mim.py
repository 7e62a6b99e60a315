"""`mim search mmcds` and `mim list` find our model index after an editable install
(issue #26, 3).

mim (openmim 0.3.9) reads the first of ``<location>/mmcds/.mim/model-index.yml`` and
``<location>/mmcds/model-index.yml`` that exists, with ``<location>`` the folder
pkg_resources found the mmcds distribution in
(``mim.commands.search.load_metadata_from_local`` via ``mim.utils.get_installed_path``,
and ``mim.commands.list.list_package``). After a PEP 660 editable install that folder is
site-packages, where no package folder existed; setup.py adds the index there. The
regular install is covered by tests/test_package_configs.py
(``test_regular_install_ships_the_configs``: the copied ``.mim/model-index.yml``).
"""
import os
import os.path as osp
import subprocess
import sys

from conftest import REPO_ROOT, source_copy, venv_seeing_this_environment

# What mim computes, in the installed environment, and what it then reads.
MIM_LOOKUP = r'''
import os.path as osp
import pkg_resources
import mmcds
from modelindex.load_model_index import load

location = pkg_resources.get_distribution('mmcds').location
index = next(path for path in (osp.join(location, 'mmcds', '.mim', 'model-index.yml'),
                               osp.join(location, 'mmcds', 'model-index.yml'))
             if osp.exists(path))
models = load(index).models
print(mmcds.__file__)
print(index)
print(sorted(model.name for model in models))
'''


def test_editable_install_puts_the_model_index_where_mim_looks(tmp_path):
    source = source_copy(tmp_path)
    # Build the editable wheel as pip does for this project (PEP 660, the legacy
    # setuptools backend of a project without pyproject.toml), and install it into a
    # fresh environment that sees this one's packages behind its own.
    build = subprocess.run(
        [sys.executable, '-c', 'from setuptools.build_meta import __legacy__ as b; '
         f'print(b.build_editable({str(tmp_path / "dist")!r}))'],
        cwd=source, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = tmp_path / 'dist' / build.stdout.strip().splitlines()[-1]
    python, site_packages = venv_seeing_this_environment(tmp_path)
    install = subprocess.run(
        [python, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index',
         '--disable-pip-version-check', str(wheel)],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]

    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    out = subprocess.run([python, '-c', MIM_LOOKUP], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    imported, index, names = out.stdout.strip().splitlines()[-3:]
    # the package itself still comes from the clone, editable ...
    assert imported == str(source / 'mmcds' / '__init__.py')
    # ... and mim's path holds the clone's index, every model of it
    assert osp.dirname(osp.dirname(index)) == site_packages
    from modelindex.load_model_index import load
    ours = sorted(model.name for model in load(
        osp.join(REPO_ROOT, 'model-index.yml')).models)
    assert len(ours) > 50 and names == str(ours)
    with open(index) as f:
        imports = [line.split('- ', 1)[1].strip() for line in f
                   if line.strip().startswith('- ')]
    assert imports and all(path.startswith(str(source / 'configs')) for path in imports)

    # pip uninstall leaves no mmcds folder behind (an empty one would be imported as a
    # namespace package in place of mmcds)
    uninstall = subprocess.run([python, '-m', 'pip', 'uninstall', '-y', '-q', 'mmcds'],
                               capture_output=True, text=True, timeout=300)
    assert uninstall.returncode == 0, uninstall.stderr[-3000:]
    assert not [name for name in os.listdir(site_packages) if 'mmcds' in name]
