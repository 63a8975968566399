#!/usr/bin/env bash
# Subtask "Start all OCP agent processes": starts every agent process that is not running with
# bin/ocp_agentctl start, detached from this command (run_detached in agent-lib.sh), and waits
# until each has a live pid, all within START_WAIT_SECONDS. Processes already running are left
# alone.
# Exit codes: 0 ok, 1 unexpected failure, 2 install broken, 4 a process would not start.
set -Eeuo pipefail
SCRIPT_NAME=start-agent
# shellcheck source=agent-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/agent-lib.sh"

require_install
require_waits START_WAIT_SECONDS
for name in "${AGENT_PROCESSES[@]}"; do remove_stale_pid_file "$name"; done
start_processes "${AGENT_PROCESSES[@]}"
log "All OCP agent processes are running"
