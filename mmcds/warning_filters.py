"""Third-party warnings that repeat without telling a user of mmcds anything.

``import mmcds`` calls :func:`filter_uninformative_warnings` once, before it imports
mmengine. Each filter matches one warning by its exact text (and, where the text could
come from elsewhere, by the module that warns); every other warning is shown as
Python shows it by default.
"""
import warnings

# (message regex, category, module regex or '' for any, why it carries nothing)
UNINFORMATIVE_WARNINGS = (
    (r"Only use 'alpha' for pillow backend\.", UserWarning, r'mmcv\.image\.photometric',
     "mmcv's adjust_color says that it ignores beta and gamma under the pillow backend; "
     "mmpretrain's ColorJitter (the contrastive views' colour distortion) passes alpha "
     "alone, and each data worker printed it again (24 times in `make demo`)"),
    (r'pkg_resources is deprecated as an API', UserWarning, '',
     "setuptools >= 81 says so whenever pkg_resources is imported or reloaded; "
     "mmengine 0.10.7 reloads it for every `mmpretrain::`/`mmdet::` base of a config "
     "(mmengine.utils.package_utils), and the runtime keeps setuptools < 82, where it "
     "still works (requirements/runtime.txt)"),
)


def filter_uninformative_warnings() -> None:
    """Ignore the warnings of :data:`UNINFORMATIVE_WARNINGS` (idempotent: the filters
    are added once each, after any the user set, so a user's own
    ``warnings.simplefilter('always')`` set later still shows them)."""
    for message, category, module, _ in UNINFORMATIVE_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category,
                                module=module, append=True)
