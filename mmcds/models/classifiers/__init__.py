from .cds_classifier import CDSClassifier
from .cds_distiller import CDSDistiller
from .dhm_classifier import DHMClassifier
from .dks_classifier import DKSClassifier
from .dsn_classifier import DSNClassifier
from .selfcon_classifier import SelfConClassifier

__all__ = ['CDSClassifier', 'CDSDistiller']
__all__ += ['DHMClassifier', 'DKSClassifier', 'DSNClassifier', 'SelfConClassifier']
