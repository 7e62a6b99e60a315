from .cds_classifier import CDSClassifier

__all__ = ['CDSClassifier']
