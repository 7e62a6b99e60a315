"""The pre-activation basic block (He et al., ECCV 2016)."""
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmpretrain.models.backbones.resnet import BasicBlock


class PreActBasicBlock(BasicBlock):
    r"""A basic block with BN-ReLU before each convolution (full pre-activation).

    He et al., "Identity Mappings in Deep Residual Networks" (ECCV 2016), Fig. 4(e):

    .. math::

        a = \mathrm{ReLU}(\mathrm{BN}_1(x)), \qquad
        y = W_2\,\mathrm{ReLU}(\mathrm{BN}_2(W_1 a)) + s(x)

    with :math:`s(x) = x`, or a strided 1x1 convolution of :math:`a` when the shape
    changes (the ``downsample`` conv, without a norm layer). No activation follows the
    sum. mmpretrain's ``BasicBlock`` layers are reused; ``norm1`` is rebuilt on the
    block's input channels because it now normalises the input.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, in_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)

    def forward(self, x):

        def _inner_forward(x):
            act = self.relu(self.norm1(x))
            identity = x if self.downsample is None else self.downsample(act)
            out = self.conv2(self.relu(self.norm2(self.conv1(act))))
            return self.drop_path(out) + identity

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x)
        return _inner_forward(x)
