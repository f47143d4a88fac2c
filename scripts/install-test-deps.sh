#!/usr/bin/env bash
# Installs what the test suite needs when it is missing: Debian's Prometheus
# server and promtool (2.x), Alertmanager and amtool — the real servers the
# integration tests start on 127.0.0.1. Idempotent; needs root (or sudo) only
# when something is missing.
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing test dependencies: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps the package from starting its own server: tests start theirs.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for bin in prometheus promtool prometheus-alertmanager amtool; do
  command -v "$bin" >/dev/null || { echo "$bin still missing after install" >&2; exit 1; }
done
prometheus --version 2>&1 | head -1 >&2
