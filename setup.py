"""Install mmcds into an environment that has torch (and mmcv 2.1.0 built against it).

torch and torchvision are no requirement: ``pip install -e .`` (or a regular install)
keeps the torch it finds, e.g. a GPU user's CUDA build; ``import mmcds`` checks that
it is in the supported range (mmcds/utils/environment.py). scripts/install.sh builds
the whole stack, mmcv's compiled ops included, into a virtual environment
(docs/installation.md)."""
import os.path as osp

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


setup(
    name='mmcds',
    version=read_version(),
    description='Contrastive Deep Supervision (ECCV 2022) for MMPretrain and MMDetection',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tools', 'configs')),
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
