#!/usr/bin/env bash
# Subtask "Stop all OCP agent processes": sends SIGTERM to every agent process named by a pid
# file, waits up to STOP_GRACE_SECONDS, SIGKILLs the rest (and waits up to KILL_WAIT_SECONDS for
# them to go), then checks that none is left and removes the stale pid files. Stopping stopped
# processes succeeds.
# Exit codes: 0 ok, 1 unexpected failure, 2 install broken, 3 a process would not stop.
set -Eeuo pipefail
SCRIPT_NAME=stop-agent
# shellcheck source=agent-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/agent-lib.sh"

require_install
require_waits STOP_GRACE_SECONDS KILL_WAIT_SECONDS
stop_processes "${AGENT_PROCESSES[@]}" || fail "$EXIT_STOP_FAILED" "some agent processes would not stop"
left=''
for name in "${AGENT_PROCESSES[@]}"; do
  pid=$(running_pid "$name")
  if [[ -n "$pid" ]]; then
    left+=" $name($pid)"
  else
    remove_stale_pid_file "$name"
  fi
done
if [[ -n "$left" ]]; then fail "$EXIT_STOP_FAILED" "agent processes still running:$left"; fi
log "All OCP agent processes are stopped"
