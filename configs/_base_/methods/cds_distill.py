# Knowledge distillation with Contrastive Deep Supervision (the paper's Table 7) as a
# delta on the student's CDS config: the model becomes a CDSDistiller, the CDS student
# plus a frozen CDS teacher built from `teacher_config` and `teacher_checkpoint`. A leaf
# inherits the student's CDS leaf and this file and applies it with
# `model = dict(_base_.distill, teacher_config=...)` (the CDS leaf already defines
# `method`, hence the other name).
#
# Values: the reference's CIFAR preset (contrastive-deep-supervision, CIFAR/distill.py):
# T = 3 (CrossEntropy: log_softmax(outputs/3), softmax(targets/3)), w_kd = 1
# (kd_loss += CrossEntropy(...)), w_feat = 0.1 (torch.dist(t_features, ...) * 1e-1),
# w_con = 0.1 (contra_criterion(features, labels) * 1e-1, SupCon at 0.07 as in cds.py).
# The ImageNet leaves override T, w_feat and w_con (their preset is in
# configs/distill/resnet18_r50-teacher_8xb32_in1k.py).
distill = dict(
    type='CDSDistiller',
    teacher_config=None,  # the teacher's CDS config file; every leaf sets it
    # No default file: give the trained teacher with
    # --cfg-options model.teacher_checkpoint=PATH (a missing one fails at build time)
    teacher_checkpoint=None,
    # True: the teacher in train mode while the student trains, as the authors' scripts
    # run it (ImageNet/KD_Contrastive_Deep_Supervision/main.py calls teacher.train();
    # CIFAR/distill.py never calls teacher.eval(), and its teacher(inputs) returns the
    # feature list only in train mode): its BN normalises with each batch's statistics
    # and its running statistics drift with the student's data (no gradient either
    # way). Ours: model.teacher_train_mode=False keeps it in eval mode (BN with the
    # statistics it was trained with).
    teacher_train_mode=True,
    kd_temperature=3.0,
    kd_loss_weight=1.0,
    feat_loss_weight=0.1,
    feat_stages=None,  # None: every stage k of the student matched with stage k
    cds_loss=dict(loss_weight=0.1))
