#!/usr/bin/env bash
# Reports each agent process as ONE line of JSON on stdout, read by
# functions/use-cases/get-agent-status.ts (which judges the agent from it, in functions/core):
#   {"processes":[{"name":"ocp_agentd","pid":123|null,"running":true|false},...]}
# pid is null for a process that does not run.
# Exit codes: 0 ok (whatever runs), 1 unexpected failure, 2 AGENT_HOME missing.
set -Eeuo pipefail
SCRIPT_NAME=agent-status
# shellcheck source=agent-lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/agent-lib.sh"

if [[ -z "${AGENT_HOME:-}" || "$AGENT_HOME" != /* || ! -d "$AGENT_HOME" ]]; then
  fail "$EXIT_INSTALL_BROKEN" "agent home '${AGENT_HOME:-}' is not an existing absolute directory"
fi
RUN_DIR="$AGENT_HOME/run"

entries=''
for name in "${AGENT_PROCESSES[@]}"; do
  pid=$(running_pid "$name")
  if [[ -n "$pid" ]]; then
    entries+=",{\"name\":\"$name\",\"pid\":$pid,\"running\":true}"
  else
    entries+=",{\"name\":\"$name\",\"pid\":null,\"running\":false}"
  fi
done
printf '{"processes":[%s]}\n' "${entries#,}"
