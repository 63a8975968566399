#!/usr/bin/env bash
# Reports the agent's processes as ONE line of JSON on stdout, read by
# functions/use-cases/get-agent-status.ts:
#   {"status":"STARTED"|"STOPPED","processes":[{"name":"ocp_agentd","pid":123|null,"running":true|false},...]}
# STARTED when all four processes run; pid is null for a process that does not run.
# Exit codes: 0 ok (whatever the status), 1 unexpected failure, 2 AGENT_HOME missing.
set -Eeuo pipefail
SCRIPT_NAME=agent-status
# shellcheck source=agent-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/agent-lib.sh"

if [[ -z "${AGENT_HOME:-}" || "$AGENT_HOME" != /* || ! -d "$AGENT_HOME" ]]; then
  fail "$EXIT_INSTALL_BROKEN" "agent home '${AGENT_HOME:-}' is not an existing absolute directory"
fi
RUN_DIR="$AGENT_HOME/run"

status=STARTED
entries=''
for name in "${AGENT_PROCESSES[@]}"; do
  pid=$(running_pid "$name")
  if [[ -n "$pid" ]]; then
    entries+=",{\"name\":\"$name\",\"pid\":$pid,\"running\":true}"
  else
    status=STOPPED
    entries+=",{\"name\":\"$name\",\"pid\":null,\"running\":false}"
  fi
done
printf '{"status":"%s","processes":[%s]}\n' "$status" "${entries#,}"
