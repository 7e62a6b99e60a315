#!/usr/bin/env bash
# The GPU check of mmcds on any CUDA machine, offline, in at most 10 minutes:
#
#   tools/analysis_tools/gpu_check.sh --out gpu_check            # on the GPU machine
#   tools/analysis_tools/gpu_check.sh --out /tmp/check --dry-run  # CPU rehearsal (CI)
#
# Options: --data-root DIR (class folders train/<class>, test/<class>; default: generated
# images), --budget SECONDS (default 570). Writes DIR/summary.md (all tables) and one .md
# and .log per step. Uses the python of the active environment (PYTHON to choose another).
# See docs/benchmark.md, "The GPU check".
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
exec "${PYTHON:-python3}" tools/analysis_tools/gpu_check.py "$@"
