from .contrastive_ds_loss import ContrastiveDSLoss

__all__ = ['ContrastiveDSLoss']
