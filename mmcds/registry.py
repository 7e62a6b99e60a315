"""The ``mmcds`` config scope: what ``_base_ = 'mmcds::cds/resnet50_8xb32_in1k.py'`` needs.

A user's project inherits our configs as mmcds itself inherits mmpretrain's. mmengine
0.10.7 resolves such a base (``Config._get_cfg_path``) in three steps, and this module
(imported by ``import mmcds``) makes each of them work:

1. ``MODULE2PACKAGE`` maps the scope before ``::`` to something mmengine can locate;
   ``'mmcds'`` is not in its table. mmengine then takes the package directory from
   ``pkg_resources`` first, which for a PEP 660 editable install is site-packages
   (where no ``mmcds/`` exists), and from ``importlib``'s ``find_spec`` only for a name
   that is no installed distribution. The entry therefore names a module of this package
   (this one), whose directory is where ``import mmcds`` really loads from: a regular
   install, an editable one, or a checkout on ``PYTHONPATH``.
2. The files: ``<package>/.mim/model-index.yml`` and ``<package>/.mim/configs/...``
   (in the repository, links to ``model-index.yml`` and ``configs/``; a regular install
   copies them, as mmpretrain's does).
3. The scope: mmengine sets ``_scope_='mmcds'`` on every outermost dict with a ``type``
   that such a base defines (pipelines, datasets, evaluators, hooks, ...), and the
   registries then build it in the scope ``'mmcds'``, importing ``mmcds.registry`` and
   looking for a registry of that scope. Our classes live in mmpretrain's (and mmdet's,
   mmengine's) registries, so the registries defined here are aliases: one child of
   each of mmengine's root registries, which looks a name up in the scope the build
   started from (the config's ``default_scope``: mmpretrain for the classifiers, mmdet
   for the detectors, which name different ``Resize``/``RandomFlip`` classes).

mmengine also passes the ``_scope_`` key on to a dataloader's ``collate_fn`` as a keyword
argument (``Runner.build_dataloader``), so ``default_collate`` and ``pseudo_collate`` are
registered again in mmengine's ``FUNCTIONS`` as the same functions accepting (and
ignoring) ``_scope_``; this also fixes ``mmpretrain::`` bases that set ``collate_fn``.
"""
from typing import Optional, Type

import mmengine.registry as mmengine_registry
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.dataset import default_collate as _default_collate
from mmengine.dataset import pseudo_collate as _pseudo_collate
from mmengine.registry import FUNCTIONS, DefaultScope, Registry

SCOPE = 'mmcds'
# Where a build that starts in the 'mmcds' scope alone resolves names.
FALLBACK_SCOPE = 'mmpretrain'


def outer_scope() -> str:
    """The default scope in force before the build switched to ``'mmcds'``.

    mmengine's ``DefaultScope.overwrite_default_scope`` appends an instance and the
    current one is the latest, so the latest instance of another scope is the one the
    build started from.
    """
    for instance in reversed(list(DefaultScope._instance_dict.values())):
        if instance.scope_name != SCOPE:
            return instance.scope_name
    return FALLBACK_SCOPE


class ScopeAliasRegistry(Registry):
    """A registry of the ``'mmcds'`` scope that holds nothing of its own.

    ``get('Name')`` returns what the sibling registry of :func:`outer_scope` (or the
    root, if that scope has none) returns; a name with another scope prefix
    (``'mmdet.Resize'``) is looked up as any registry does.
    """

    def _register_module(self, module, module_name=None, force=False) -> None:
        raise TypeError(
            f'mmcds.registry.{self.name}: the "mmcds" scope only resolves names; '
            "register into mmpretrain's (or mmdet's, mmengine's) registry instead")

    def get(self, key: str) -> Optional[Type]:
        scope, real_key = self.split_scope_key(key)
        if scope is not None and scope != SCOPE:
            return super().get(key)
        target = self.parent._search_child(outer_scope())
        # not `or`: a registry whose modules are not imported yet has len() 0
        return (self.parent if target is None else target).get(real_key)


def _alias_registries() -> dict:
    """One :class:`ScopeAliasRegistry` under each of mmengine's root registries."""
    roots = {name: value for name, value in vars(mmengine_registry).items()
             if isinstance(value, Registry) and value.parent is None}
    return {name: ScopeAliasRegistry(root.name, parent=root, scope=SCOPE)
            for name, root in roots.items()}


# mmengine's root registry name -> its 'mmcds' alias, e.g. ALIASES['MODELS'].
ALIASES = _alias_registries()
# The module mmengine locates the package by (see 1. above).
MODULE2PACKAGE.setdefault(SCOPE, __name__)


def default_collate(data_batch, _scope_=None):
    """``mmengine.dataset.default_collate``, accepting the ``_scope_`` key mmengine
    leaves in a ``collate_fn`` dict inherited from a ``package::`` base."""
    return _default_collate(data_batch)


def pseudo_collate(data_batch, _scope_=None):
    """``mmengine.dataset.pseudo_collate``, accepting ``_scope_`` (see
    :func:`default_collate`)."""
    return _pseudo_collate(data_batch)


FUNCTIONS.register_module(name='default_collate', module=default_collate, force=True)
FUNCTIONS.register_module(name='pseudo_collate', module=pseudo_collate, force=True)
