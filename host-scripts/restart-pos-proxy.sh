#!/usr/bin/env bash
# Subtask "Restart pos proxy": stops pos_proxy (SIGTERM, then SIGKILL after STOP_GRACE_SECONDS),
# starts it again with bin/ocp_agentctl (within START_WAIT_SECONDS) and checks that it runs with a
# new pid. A pos_proxy that was not running is simply started.
# Exit codes: 0 ok, 1 unexpected failure, 2 install broken, 3 would not stop, 4 would not start.
set -Eeuo pipefail
SCRIPT_NAME=restart-pos-proxy
# shellcheck source=agent-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/agent-lib.sh"

require_install
require_waits STOP_GRACE_SECONDS KILL_WAIT_SECONDS START_WAIT_SECONDS
old_pid=$(running_pid pos_proxy)
stop_processes pos_proxy || fail "$EXIT_STOP_FAILED" "pos_proxy would not stop"
remove_stale_pid_file pos_proxy
start_processes pos_proxy
new_pid=$(running_pid pos_proxy)
if [[ -z "$new_pid" ]]; then fail "$EXIT_START_FAILED" "pos_proxy is not running after its start"; fi
if [[ "$new_pid" == "$old_pid" ]]; then
  fail "$EXIT_START_FAILED" "pos_proxy still runs with its old pid $old_pid"
fi
log "pos_proxy restarted: pid ${old_pid:-none} -> $new_pid"
