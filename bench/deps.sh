#!/bin/bash
# bench/deps.sh - installs what the benchmarks need (Debian 12, as root):
# first what mod_fcgix itself needs (.ci/packages), then the benchmark's own
# packages (bench/packages). Both through .ci/deps: nothing is done when all
# are there; no running server is stopped or changed; a service a new
# package starts is stopped again; Debian's a2enmod of a new module (fcgid)
# is undone, so the machine's stock apache2 keeps its configuration. The
# benchmarks run their own apache2 and lighttpd with their own configs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
had_lighttpd=$(dpkg-query -W -f='${Status}' lighttpd 2>/dev/null || true)
bash "$root/.ci/deps"
bash "$root/.ci/deps" "$root/bench/packages"
# lighttpd installed now: its service does not start at boot either (as
# bench/pm-backends.sh does when it installs lighttpd itself)
if [[ $had_lighttpd != *"ok installed"* ]] && [ -x /etc/init.d/lighttpd ]; then
    update-rc.d lighttpd disable >/dev/null 2>&1 || true
fi
