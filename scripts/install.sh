#!/usr/bin/env bash
# Installs the mmcds stack into a virtual environment (default: .venv in the repository root).
#
#   torch + torchvision, mmengine 0.10.7, mmcv 2.1.0 with its compiled ops, mmpretrain 1.2.0,
#   mmdet 3.3.0, then mmcds itself in editable mode.
#
# torch: a virtual environment without torch gets the pinned torch 2.14.1 / torchvision 0.29.1
# of requirements/torch.txt (the reproducible environment of `make test` and CI). One that
# already has torch (MMCDS_VENV pointing at a GPU user's environment, e.g. with a CUDA build)
# keeps it, if it is in the supported range (mmcds/utils/environment.py), and gets the
# torchvision of the same release if it has none.
#
# mmcv 2.1.0 ships only as a source distribution that does not build as published against
# recent torch. This script builds it with three fixes and caches the wheel outside the
# repository (MMCDS_CACHE, default ~/.cache/mmcds), named by what it was built against (torch,
# Python, CPU/CUDA ops, CUDA version and architectures), so a second install takes seconds:
#   1. setuptools < 70 while building: its setup.py imports pkg_resources;
#   2. --no-build-isolation: it must compile against the torch installed in the venv;
#   3. -std=c++14/-std=c++17 in its setup.py raised to -std=c++20, which torch's headers need.
#
# Idempotent: a venv whose stamp matches the requirement files, torch and ops is left as it is.
# mmcv's ops are built with CUDA kernels where nvcc and an NVIDIA GPU are present, for the CPU
# only elsewhere (mmcds/utils/mmcv_ops.py decides and says why); CUDA kernels are compiled for
# TORCH_CUDA_ARCH_LIST, by default the architectures of the GPUs torch (or nvidia-smi) sees.
# Environment: MMCDS_VENV, MMCDS_CACHE, PYTHON (interpreter for a new venv, Python 3.10-3.13),
# MAX_JOBS (compile jobs, default: number of cores), MMCDS_MMCV_CUDA=1/0 to force CUDA/CPU ops,
# TORCH_CUDA_ARCH_LIST (e.g. "8.0;9.0"), MMCDS_TEST_TOOLS=0 to leave out the test tools
# (requirements/tests.txt: pytest, tensorboard, onnx, ...) in an environment of your own.
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

ENVIRONMENT="$ROOT/mmcds/utils/environment.py"
OPS="$ROOT/mmcds/utils/mmcv_ops.py"

STEP="check the Python version (supported: mmcds/utils/environment.py)"
if [[ -x "$VENV/bin/python" ]]; then
    "$VENV/bin/python" -I "$ENVIRONMENT" check-python
else
    "$PYTHON" -I "$ENVIRONMENT" check-python
fi

STEP="decide which mmcv ops to build (MMCDS_MMCV_CUDA: 0 or 1)"
flavour=$("$PYTHON" -I "$OPS" flavour)

# The installed version of a distribution in the venv (empty if none), without importing it.
venv_version() {
    [[ -x "$VENV/bin/python" ]] || return 0
    "$VENV/bin/python" -I -c 'import sys
from importlib.metadata import PackageNotFoundError, version
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass' "$1"
}

stamp_of_inputs() {
    { cat "$ROOT"/requirements/*.txt "$ROOT/scripts/install.sh" "$ROOT/setup.py"
      echo "mmcv ops: $flavour ${TORCH_CUDA_ARCH_LIST:-}; torch: $(venv_version torch)"
      echo "test tools: ${MMCDS_TEST_TOOLS:-1}"
    } | sha256sum | cut -d' ' -f1
}

STAMP_FILE="$VENV/.mmcds-install-stamp"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$(stamp_of_inputs)" ]]; then
    say "environment $VENV is up to date"
    exit 0
fi

STEP="create the virtual environment"
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating virtual environment $VENV with $PYTHON"
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

torch_version=$(venv_version torch)
if [[ -n "$torch_version" ]]; then
    STEP="check the installed torch $torch_version"
    "$PY" -I "$ENVIRONMENT" check-torch "$torch_version"
    say "keeping torch $torch_version of $VENV"
    wanted=$("$PY" -I "$ENVIRONMENT" torchvision-for "$torch_version")
    have=$(venv_version torchvision)
    if [[ -z "$have" ]]; then
        STEP="install torchvision $wanted, the release of torch $torch_version (no other package changes)"
        say "$STEP"
        index=()
        if [[ "$torch_version" == *+* ]]; then  # a build of PyTorch's own index, e.g. +cu121
            index=(--extra-index-url "https://download.pytorch.org/whl/${torch_version#*+}")
        fi
        quiet_pip install -q --no-deps ${index[@]+"${index[@]}"} "torchvision==$wanted"
    elif [[ "${have%%+*}" != "${wanted%.*}."* ]]; then
        STEP="check torchvision"
        echo "[mmcds install] torchvision $have is not the release of torch $torch_version" \
             "(torchvision $wanted is): install that one from where your torch came from" >&2
        false
    fi
else
    STEP="install torch and torchvision (requirements/torch.txt)"
    say "$STEP: several GB on a fresh machine; pip takes torch from the local disk where it can"
    quiet_pip install -q -r "$ROOT/requirements/torch.txt"
    torch_version=$(venv_version torch)
fi
STEP="install the mmcv build tools"
quiet_pip install -q -r "$ROOT/requirements/build.txt"

STEP="install mmcv $MMCV_VERSION with compiled ops"
arch_list=""
if [[ "$flavour" == "cuda" ]]; then
    STEP="find the CUDA architectures to compile mmcv's ops for (TORCH_CUDA_ARCH_LIST)"
    if [[ -z "$("$PY" -I -c 'import torch; print(torch.version.cuda or "")')" ]]; then
        echo "[mmcds install] torch $torch_version is a CPU-only build, so mmcv's CUDA ops" \
             "cannot be built against it: install a CUDA build of torch, or" \
             "MMCDS_MMCV_CUDA=0 for CPU ops" >&2
        false
    fi
    arch_list=$("$PY" -I "$OPS" cuda-arch-list)
    say "CUDA ops for architectures $arch_list (TORCH_CUDA_ARCH_LIST)"
fi
STEP="install mmcv $MMCV_VERSION with compiled ops"
WHEEL_DIR="$CACHE/wheels/$("$PY" -I "$OPS" wheel-key "$flavour" ${arch_list:+"$arch_list"})"
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
        if [[ "$flavour" == "cuda" ]]; then
            cuda_env=(FORCE_CUDA=1 "TORCH_CUDA_ARCH_LIST=$arch_list")
        fi
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

requirements=(-r "$ROOT/requirements/runtime.txt")
STEP="install mmengine, mmpretrain, mmdet"
if [[ "${MMCDS_TEST_TOOLS:-1}" != 0 ]]; then
    requirements+=(-r "$ROOT/requirements/tests.txt")
    STEP="$STEP and the test tools"
fi
say "$STEP"
quiet_pip install -q "${requirements[@]}" --find-links "$WHEEL_DIR"

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
