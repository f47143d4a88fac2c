#!/usr/bin/env bash
# Builds the real VictoriaMetrics single-node server the exactness tests start
# on 127.0.0.1 (internal/vmtest), from the Go module pinned in
# tools/victoria-metrics (github.com/VictoriaMetrics/VictoriaMetrics, a `tool`
# of that module, so its go.sum covers every package the binary needs). The
# binary is cached under $MINER_DETECTOR_VM_BIN (default
# ~/.cache/miner-detector/victoria-metrics-<hash of the tools module>), so
# only the first run pays the build (about 35 s on 2 cores with the modules
# already downloaded, 90 s from an empty module and build cache). Prints the
# binary's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mod="$root/tools/victoria-metrics"
hash=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
dir=${MINER_DETECTOR_VM_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/miner-detector/victoria-metrics-$hash}
bin="$dir/victoria-metrics"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  echo "building victoria-metrics into $dir (first run only)..." >&2
  start=$(date +%s)
  (cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" \
    github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics)
  mv "$bin.tmp" "$bin"
  echo "built victoria-metrics in $(( $(date +%s) - start )) s" >&2
fi
echo "$bin"
