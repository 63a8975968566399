#!/usr/bin/env bash
# Subtask "Finish OCP agent operation": checks that every agent process is alive and, against the
# pids and start times prepare-restart.sh recorded, that each one really is a new process (a new
# process may reuse an old pid, never with the old start time); then removes the
# restart state. The state is kept on failure. Without a record (already finished), only
# liveness is checked.
# Exit codes: 0 ok, 1 unexpected failure, 2 install broken, 5 unhealthy.
set -Eeuo pipefail
SCRIPT_NAME=finish-operation
# shellcheck source=agent-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/agent-lib.sh"

require_install
state_dir=$(restart_state_dir)
record="$state_dir/previous-pids"
declare -A previous=() previous_start=()
if [[ -f "$record" ]]; then
  while read -r name pid start; do
    if [[ "$name" =~ ^[a-z_]{1,32}$ ]]; then
      previous[$name]=$pid
      previous_start[$name]=${start:--}
    fi
  done <"$record"
else
  warn "no restart record at $record (already finished?): checking liveness only"
fi

problems=''
for name in "${AGENT_PROCESSES[@]}"; do
  pid=$(running_pid "$name")
  before=${previous[$name]:-unknown}
  if [[ -z "$pid" ]]; then
    problems+="; $name is not running"
  elif [[ "$pid" == "$before" && ("${previous_start[$name]:--}" == - ||
    "${previous_start[$name]}" == "$(process_start_time "$pid")") ]]; then
    problems+="; $name still runs with pid $pid from before the restart"
  else
    log "$name is running with new pid $pid (before the restart: ${before/#-/not running})"
  fi
done
if [[ -n "$problems" ]]; then fail "$EXIT_UNHEALTHY" "agent unhealthy after the restart: ${problems#; }"; fi

rm -rf -- "$state_dir"
log "OCP agent is healthy; removed the restart state $state_dir"
