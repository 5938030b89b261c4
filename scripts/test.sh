#!/usr/bin/env bash
# The test command: installs what the tests need beyond npm, then runs vitest inside a network
# namespace that has only the loopback interface, so no test can reach any other address
# (Chromium's WebRTC gathers every interface it sees). Falls back to the plain host network, with
# a warning, where namespaces are not allowed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/ensure-deps.sh"
if [ "${SWARMCAST_NETNS:-}" != "lo-only" ]; then
  for flags in -n -rn; do
    if unshare "$flags" true 2>/dev/null && command -v ip >/dev/null 2>&1; then
      exec unshare "$flags" env SWARMCAST_NETNS=lo-only sh -c 'ip link set lo up && exec "$@"' sh \
        npx vitest run "$@"
    fi
  done
  echo "test: cannot create a network namespace; running on the host network" >&2
fi
exec npx vitest run "$@"
