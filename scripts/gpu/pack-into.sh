#!/usr/bin/env bash
# Packs the project for the GPU machine (../shared/device/pack.sh) and copies the pack, with the
# goldens the parity suite reads, into DEST/.device (default: this checkout): the device tool sends
# the checkout its session started in, which may be another clone than the one being worked on.
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
dest=${1:-$root}
npm run build >/dev/null
../shared/device/pack.sh >/dev/null
mkdir -p .device/goldens && cp -r ../shared/fixtures/hf-tiny/* test/goldens/* .device/goldens/
if [ "$dest" != "$root" ]; then
  git -C "$dest" check-ignore -q .device/x || { echo "pack-into: $dest/.device is not ignored there" >&2; exit 1; }
  mkdir -p "$dest/.device" && rm -rf "$dest/.device/gl" "$dest/.device/goldens"
  cp -r .device/sil.tar.xz .device/node.xz .device/run.sh .device/gl .device/goldens "$dest/.device/"
fi
du -sh "$dest/.device"
