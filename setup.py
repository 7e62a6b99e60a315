"""Install mmcds into an environment that has torch (and mmcv 2.1.0 built against it).

torch and torchvision are no requirement: ``pip install -e .`` (or a regular install)
keeps the torch it finds, e.g. a GPU user's CUDA build; ``import mmcds`` checks that
it is in the supported range (mmcds/utils/environment.py). scripts/install.sh builds
the whole stack, mmcv's compiled ops included, into a virtual environment
(docs/installation.md)."""
import os.path as osp
import re

from setuptools import find_packages, setup


def read_version():
    namespace = {}
    with open(osp.join(osp.dirname(__file__), 'mmcds', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def parse_requirements(path):
    """Plain requirement lines of ``path`` (comments and ``-r`` includes skipped)."""
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


# mim: `mim search mmcds` and `mim list` read <location>/mmcds/.mim/model-index.yml or
# <location>/mmcds/model-index.yml, where <location> is the folder pkg_resources found
# the mmcds distribution in (openmim 0.3.9, mim/commands/search.py
# load_metadata_from_local, mim/commands/list.py list_package). A regular install puts
# the first there (package_data). An editable install (PEP 660: `pip install -e .` since
# setuptools 64, also `setup.py develop` since setuptools 80) puts only its metadata
# into site-packages and loads the package from this folder, so mim found nothing. Its
# wheel therefore also carries mmcds/model-index.yml: this repository's index with its
# Import paths made absolute (edited metafiles show without reinstalling; a file
# directly in mmcds/, so that `pip uninstall` removes the folder with it). That folder
# has no __init__.py, so the real package must be found on sys.path, not through
# setuptools' import hook, which Python asks only after every sys.path entry:
# package_dir={'': '.'} below makes the editable install put this folder on sys.path
# (a static .pth, as `setup.py develop` did before setuptools 80).
MIM_INDEX = 'mmcds/model-index.yml'


def editable_model_index(root: str) -> str:
    """model-index.yml with its ``Import`` entries as absolute paths under ``root``."""
    with open(osp.join(root, 'model-index.yml')) as f:
        text = f.read()
    return re.sub(r'^([ \t]*-[ \t]*)(\S+\.ya?ml)[ \t]*$',
                  lambda m: m.group(1) + osp.join(root, m.group(2)), text, flags=re.M)


def mim_cmdclass() -> dict:
    try:
        from setuptools.command.editable_wheel import editable_wheel
    except ImportError:  # setuptools < 64: `setup.py develop` links this folder itself
        return {}

    class EditableWheelWithModelIndex(editable_wheel):
        """The editable wheel, plus ``mmcds/model-index.yml`` for mim."""

        def _select_strategy(self, *args, **kwargs):
            strategy = super()._select_strategy(*args, **kwargs)
            if type(strategy).__name__ == '_TopLevelFinder':
                return strategy  # import hook: a site-packages/mmcds/ would shadow it
            index = editable_model_index(osp.abspath(self.project_dir or '.'))

            class WithModelIndex:
                def __enter__(self):
                    strategy.__enter__()
                    return self

                def __exit__(self, *exc_info):
                    return strategy.__exit__(*exc_info)

                def __call__(self, wheel, files, mapping):
                    strategy(wheel, files, mapping)
                    wheel.writestr(MIM_INDEX, index)

            return WithModelIndex()

    return {'editable_wheel': EditableWheelWithModelIndex}


setup(
    name='mmcds',
    version=read_version(),
    description='Contrastive Deep Supervision (ECCV 2022) for MMPretrain and MMDetection',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tools', 'configs')),
    package_dir={'': '.'},  # mim: an editable install on sys.path (see mim_cmdclass)
    cmdclass=mim_cmdclass(),
    # The configs and the model index ship inside the package, as mmpretrain's do, so
    # that `_base_ = 'mmcds::cds/...'` works after a regular install too
    # (mmcds/registry.py). In the repository mmcds/.mim/ holds links to configs/ and
    # model-index.yml (what an editable install reads); a wheel copies the files.
    package_data={'mmcds': ['.mim/model-index.yml', '.mim/configs/**/*.py',
                            '.mim/configs/**/*.yml', '.mim/configs/**/*.md']},
    python_requires='>=3.10, <3.14',  # environment.SUPPORTED_PYTHON
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
    },
    license='Apache License 2.0',
    zip_safe=False,
)
