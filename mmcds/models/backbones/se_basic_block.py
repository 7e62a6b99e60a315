"""ResNet's BasicBlock with a squeeze-and-excitation layer (SE-ResNet-18/34)."""
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.utils import SELayer


class SEBasicBlock(BasicBlock):
    r"""mmpretrain's ``BasicBlock`` with an ``SELayer`` before the residual sum.

    Hu et al., "Squeeze-and-Excitation Networks" (CVPR 2018), Fig. 3: the SE layer
    rescales the residual branch's channels, as mmpretrain's ``SEBottleneck`` does
    for the bottleneck block:

    .. math::

        y = \mathrm{ReLU}\big(\mathrm{SE}(\mathrm{BN}_2(W_2\,
            \mathrm{ReLU}(\mathrm{BN}_1(W_1 x)))) + \mathrm{shortcut}(x)\big)

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).

    Args:
        se_ratio (int): squeeze ratio of the ``SELayer``. Defaults to 16.
        **kwargs: ``BasicBlock``'s arguments.
    """

    def __init__(self, in_channels, out_channels, se_ratio=16, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        self.se_layer = SELayer(out_channels, ratio=se_ratio)

    def forward(self, x):

        def _inner_forward(x):
            out = self.relu(self.norm1(self.conv1(x)))
            out = self.se_layer(self.norm2(self.conv2(out)))
            identity = x if self.downsample is None else self.downsample(x)
            return self.drop_path(out) + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(_inner_forward, x)
        else:
            out = _inner_forward(x)
        return self.relu(out)
