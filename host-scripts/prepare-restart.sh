#!/usr/bin/env bash
# Subtask "Prepare restart OCP agent": checks the agent install in $AGENT_HOME (directory,
# executable bin/ocp_agentctl, writable run/) and records the current pid and start time of every
# agent process in $AGENT_HOME/run/restart/previous-pids ("<name> <pid|-> <start time|->" lines),
# which finish-operation.sh compares against. Safe to re-run: the record is simply taken again.
# Exit codes: 0 ok, 1 unexpected failure, 2 install broken.
set -Eeuo pipefail
SCRIPT_NAME=prepare-restart
# shellcheck source=agent-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/agent-lib.sh"

require_install
log "Agent install $AGENT_HOME is usable: $CTL is executable, $RUN_DIR is writable"

state_dir=$(restart_state_dir)
mkdir -p -- "$state_dir"
record="$state_dir/previous-pids"
tmp="$record.tmp.$$"
: >"$tmp"
for name in "${AGENT_PROCESSES[@]}"; do
  pid=$(running_pid "$name")
  start=''
  if [[ -n "$pid" ]]; then start=$(process_start_time "$pid"); fi
  printf '%s %s %s\n' "$name" "${pid:--}" "${start:--}" >>"$tmp"
  if [[ -n "$pid" ]]; then
    log "$name is running with pid $pid"
  else
    log "$name is not running"
  fi
done
mv -f -- "$tmp" "$record"
log "Recorded the current pids in $record"
