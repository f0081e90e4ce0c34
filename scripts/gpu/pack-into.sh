#!/usr/bin/env bash
# Packs the project for the GPU machine (../shared/device/pack.sh) and copies the pack, with the
# goldens the parity suite reads, into DEST/.device (default: this checkout): the device tool sends
# the checkout its session started in, which may be another clone than the one being worked on.
# Use: scripts/gpu/pack-into.sh [DEST] [--update]  (--update: reuse the last pack's node and node_modules)
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
dest=${1:-$root}
npm run build >/dev/null
if [ "${2:-}" = "--update" ] && [ -f .device/sil.tar.xz ]; then
  # only the project's own files change: swap dist/, bench/ and scripts/ in the last pack (no npm ci, no node)
  stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
  tar -xJf .device/sil.tar.xz -C "$stage"
  rm -rf "$stage/sil/dist" "$stage/sil/bench" "$stage/sil/scripts"
  cp -r dist bench scripts package.json "$stage/sil/"
  tar -C "$stage" -c sil | xz -T2 -1 > .device/sil.tar.xz
else
  ../shared/device/pack.sh >/dev/null
fi
mkdir -p .device/goldens && cp -r ../shared/fixtures/hf-tiny/* test/goldens/* .device/goldens/
if [ "$dest" != "$root" ]; then
  git -C "$dest" check-ignore -q .device/x || { echo "pack-into: $dest/.device is not ignored there" >&2; exit 1; }
  mkdir -p "$dest/.device" && rm -rf "$dest/.device/gl" "$dest/.device/goldens"
  cp -r .device/sil.tar.xz .device/node.xz .device/run.sh .device/gl .device/goldens "$dest/.device/"
fi
du -sh "$dest/.device"
