from .cds_neck import CDSNeck

__all__ = ['CDSNeck']
