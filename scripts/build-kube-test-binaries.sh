#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd the RBAC and leader-election tests
# start on 127.0.0.1, from the Go modules pinned in tools/kube-apiserver and
# tools/etcd (k8s.io/kubernetes at client-go's version). The binaries are
# cached under $MINER_DETECTOR_KUBE_BIN (default ~/.cache/miner-detector/kube-<hash
# of the tools' go.sum>), so only the first run pays the build (about 4
# minutes on 2 cores). Prints the directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hash=$(cat "$root/tools/kube-apiserver/go.sum" "$root/tools/etcd/go.sum" \
  "$root/tools/kube-apiserver/main.go" "$root/tools/etcd/main.go" | sha256sum | cut -c1-12)
dir=${MINER_DETECTOR_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/miner-detector/kube-$hash}
mkdir -p "$dir"
for tool in etcd kube-apiserver; do
  if [ ! -x "$dir/$tool" ]; then
    echo "building $tool into $dir (first run only)..." >&2
    start=$(date +%s)
    (cd "$root/tools/$tool" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/$tool.tmp" .)
    mv "$dir/$tool.tmp" "$dir/$tool"
    echo "built $tool in $(( $(date +%s) - start )) s" >&2
  fi
done
echo "$dir"
