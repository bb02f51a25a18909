#!/usr/bin/env bash
# Installs the Debian packages in .ci/apt-packages.txt that are missing (bubblewrap and
# mmdebstrap for isolated containers and images, among others) when this is a Debian or
# Ubuntu machine and we are root. Elsewhere it says what is missing and carries on: ketch
# then runs containers with its `process` backend.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -s .ci/apt-packages.txt ] || exit 0
missing=$(xargs -a .ci/apt-packages.txt -n1 sh -c 'dpkg -s "$0" >/dev/null 2>&1 || echo "$0"' 2>/dev/null)
[ -n "$missing" ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null && exit 0
fi
echo "note: missing system packages: $(echo $missing). Without bubblewrap, ketch runs" \
     "containers unisolated (--runtime process). On Debian/Ubuntu, as root:" \
     "apt-get install $(echo $missing)" >&2
