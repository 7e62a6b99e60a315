#!/usr/bin/env bash
# Installs the mmcds stack into a virtual environment (default: .venv in the repository root).
#
#   torch 2.14.1 / torchvision 0.29.1, mmengine 0.10.7, mmcv 2.1.0 with its compiled ops,
#   mmpretrain 1.2.0, mmdet 3.3.0, then mmcds itself in editable mode.
#
# mmcv 2.1.0 ships only as a source distribution that does not build as published against
# torch 2.14. This script builds it with three fixes and caches the wheel outside the
# repository (MMCDS_CACHE, default ~/.cache/mmcds), so a second install takes seconds:
#   1. setuptools < 70 while building: its setup.py imports pkg_resources;
#   2. --no-build-isolation: it must compile against the torch installed in the venv;
#   3. -std=c++14/-std=c++17 in its setup.py raised to -std=c++20, which torch's headers need.
#
# Idempotent: a venv whose stamp matches the requirement files is left as it is.
# mmcv's ops are built with CUDA kernels where nvcc and an NVIDIA GPU are present, for the CPU
# only elsewhere (mmcds/utils/mmcv_ops.py decides and says why); one wheel is cached per flavour.
# Environment: MMCDS_VENV, MMCDS_CACHE, PYTHON (interpreter for the venv, Python 3.11),
# MAX_JOBS (compile jobs, default: number of cores), MMCDS_MMCV_CUDA=1/0 to force CUDA/CPU ops.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMCDS_VENV:-$ROOT/.venv}
CACHE=${MMCDS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmcds}
PYTHON=${PYTHON:-python3}
MMCV_VERSION=2.1.0
STEP="start"

say() { echo "[mmcds install] $*"; }
on_error() {
    echo "[mmcds install] FAILED during step: $STEP" >&2
    echo "[mmcds install] Fix the error above and run the same command again;" \
         "finished steps are skipped." >&2
}
trap on_error ERR

STEP="decide which mmcv ops to build (MMCDS_MMCV_CUDA: 0 or 1)"
flavour=$("$PYTHON" -I "$ROOT/mmcds/utils/mmcv_ops.py" flavour)

stamp_of_inputs() {
    { cat "$ROOT"/requirements/*.txt "$ROOT/scripts/install.sh" "$ROOT/setup.py"
      echo "mmcv ops: $flavour"; } | sha256sum | cut -d' ' -f1
}

STAMP_FILE="$VENV/.mmcds-install-stamp"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$(stamp_of_inputs)" ]]; then
    say "environment $VENV is up to date"
    exit 0
fi

STEP="create the virtual environment"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating virtual environment $VENV with $PYTHON"
    "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), \
        f"Python 3.11 is needed (torch 2.14.1 wheels on this machine are cp311); got {sys.version}"'
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
# The machine's pip config lists local file indexes that do not exist for most packages;
# their warnings say nothing useful.
quiet_pip() {
    local status=0
    "${PIP[@]}" "$@" > >(grep -v "is ignored: it is neither a file nor a directory") 2>&1 || status=$?
    wait
    return "$status"
}

STEP="install torch 2.14.1, torchvision 0.29.1 and the mmcv build tools"
say "$STEP (several GB on a fresh machine; pip takes torch from the local disk where it can)"
quiet_pip install -q -r "$ROOT/requirements/build.txt"

STEP="install mmcv $MMCV_VERSION with compiled ops"
torch_tag=$("$PY" -c 'import sys, torch; v = torch.__version__.split("+")[0]; print(f"torch{v}-cp{sys.version_info[0]}{sys.version_info[1]}")')
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-$torch_tag-$flavour"
mmcv_ok() {
    "$PY" - <<EOF 2>/dev/null || return 1
import mmcv, mmcv.ops
assert mmcv.__version__ == "$MMCV_VERSION", mmcv.__version__
EOF
    # CPU ops also come with a CUDA build; CUDA ops must be there to skip the build
    [[ "$flavour" == "cpu" ]] || "$PY" -I "$ROOT/mmcds/utils/mmcv_ops.py" has-cuda-ops
}
if mmcv_ok; then
    say "mmcv $MMCV_VERSION with $flavour ops already installed"
else
    if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
        say "building mmcv $MMCV_VERSION from source with its C++ ops ($flavour)."
        say "This takes 15-30 minutes on 2 cores, once: the wheel is cached in $WHEEL_DIR"
        build_dir=$(mktemp -d)
        STEP="install setuptools<70 for mmcv's setup.py (pip warns that torch wants >=77: expected)"
        quiet_pip install -q "setuptools>=64,<70"
        STEP="download the mmcv $MMCV_VERSION source distribution"
        quiet_pip download -q --no-deps --no-binary :all: --no-build-isolation \
            "mmcv==$MMCV_VERSION" -d "$build_dir"
        tar -xzf "$build_dir/mmcv-$MMCV_VERSION.tar.gz" -C "$build_dir"
        src="$build_dir/mmcv-$MMCV_VERSION"
        STEP="patch mmcv's setup.py for C++20"
        sed -i -E 's/(std[=:])c\+\+1[47]/\1c++20/g' "$src/setup.py"
        if grep -qE 'std[=:]c\+\+1[47]' "$src/setup.py"; then
            echo "setup.py still asks for C++14/17 after patching" >&2; false
        fi
        STEP="compile mmcv $MMCV_VERSION (MMCV_WITH_OPS=1)"
        cuda_env=(CUDA_VISIBLE_DEVICES= FORCE_CUDA=0)
        if [[ "$flavour" == "cuda" ]]; then cuda_env=(FORCE_CUDA=1); fi
        env "${cuda_env[@]}" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$build_dir/dist" "$src" \
            > "$build_dir/build.log" 2>&1 || { tail -n 40 "$build_dir/build.log" >&2; false; }
        mkdir -p "$WHEEL_DIR"
        cp "$build_dir"/dist/mmcv-*.whl "$WHEEL_DIR/"
        rm -rf "$build_dir"
        say "mmcv wheel cached: $(ls "$WHEEL_DIR"/mmcv-*.whl)"
    else
        say "installing the cached mmcv wheel from $WHEEL_DIR"
    fi
    STEP="install the mmcv $MMCV_VERSION wheel"
    quiet_pip install -q --force-reinstall --no-deps "$WHEEL_DIR"/mmcv-*.whl
fi

STEP="install mmengine, mmpretrain, mmdet and the test tools"
say "$STEP"
quiet_pip install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    --find-links "$WHEEL_DIR"

STEP="install mmcds in editable mode"
say "$STEP"
quiet_pip install -q --no-deps --no-build-isolation -e "$ROOT"

STEP="check the installation"
"$PY" - <<'EOF'
import torch, mmcv, mmengine, mmpretrain, mmdet, mmcds
from mmcv.ops import nms, RoIAlign  # noqa: F401  compiled ops must load
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)[1]
assert keep.tolist() == [0, 2], keep
print(f"[mmcds install] ok: torch {torch.__version__}, mmengine {mmengine.__version__}, "
      f"mmcv {mmcv.__version__} (ops), mmpretrain {mmpretrain.__version__}, "
      f"mmdet {mmdet.__version__}, mmcds {mmcds.__version__}")
EOF
stamp_of_inputs > "$STAMP_FILE"
