# shellcheck shell=bash
# Helpers shared by the host scripts. Each script sources this file when run directly;
# host-scripts/command-documents.ts inlines it in place of that `source` line, so every SSM
# document is self-contained. Written for bash >= 4.2 (CentOS/RHEL 7 hosts): no EPOCHREALTIME,
# no namerefs, no expansion of possibly empty arrays under `set -u`.
#
# Exit codes shared by all scripts:
#   0  ok
#   1  unexpected failure (a command failed; see stderr)
#   2  install or configuration broken (AGENT_HOME, control script, run dir, a bad setting)
#   3  a process would not stop
#   4  a process would not start
#   5  unhealthy after the restart (finish-operation.sh)
#
# Waits, in seconds (up to 3 decimals), from the environment: each SSM document sets those its
# script uses to its subtask's budget (scriptWaits in functions/core/subtasks.ts), which fits the
# command's execution timeout, so a script fails with its own exit code before SSM would kill it.
#   STOP_GRACE_SECONDS  time between SIGTERM and SIGKILL
#   KILL_WAIT_SECONDS   time for a SIGKILLed process to disappear
#   START_WAIT_SECONDS  time for the control script to return and the started processes to have a
#                       live pid; a control script still running then is SIGKILLed

readonly EXIT_INSTALL_BROKEN=2
readonly EXIT_STOP_FAILED=3
readonly EXIT_START_FAILED=4
readonly EXIT_UNHEALTHY=5

# The agent's processes, in start order.
readonly -a AGENT_PROCESSES=(ocp_agentd ocp_mgragent ocp_monagent pos_proxy)

trap 'printf "%s: ERROR: unexpected failure (exit %s) at line %s\n" "$SCRIPT_NAME" "$?" "$LINENO" >&2' ERR

log() {
  printf '%s\n' "$*"
}

warn() {
  printf '%s: WARNING: %s\n' "$SCRIPT_NAME" "$*" >&2
}

# fail <exit code> <message>
fail() {
  local code=$1
  shift
  printf '%s: ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
  exit "$code"
}

now_ms() {
  local ns
  ns=$(date +%s%N)
  printf '%s' "$((ns / 1000000))"
}

# require_waits <NAME...>: sets <NAME less _SECONDS>_MS to each wait NAME, in ms. Runs in the main
# shell (never in $(...)), so a missing or bad value ends the script with exit 2 before it acts.
require_waits() {
  local name value fraction
  for name in "$@"; do
    value=${!name:-}
    if [[ -z "$value" ]]; then
      fail "$EXIT_INSTALL_BROKEN" "$name is not set (the SSM document sets it)"
    fi
    if [[ ! "$value" =~ ^([0-9]{1,6})(\.([0-9]{1,3}))?$ ]]; then
      fail "$EXIT_INSTALL_BROKEN" "$name must be a number of seconds (e.g. 10 or 0.5), got '$value'"
    fi
    fraction="${BASH_REMATCH[3]}000"
    printf -v "${name%_SECONDS}_MS" '%s' "$((10#${BASH_REMATCH[1]} * 1000 + 10#${fraction:0:3}))"
  done
}

format_seconds() {
  printf '%d.%03ds' "$(($1 / 1000))" "$(($1 % 1000))"
}

# Fails with exit 2 unless AGENT_HOME is an agent install we can operate on and the settings are
# valid (CONTROL_SCRIPT, relative to AGENT_HOME, defaults to bin/ocp_agentctl). Sets CTL and RUN_DIR.
require_install() {
  if [[ -z "${AGENT_HOME:-}" ]]; then fail "$EXIT_INSTALL_BROKEN" "AGENT_HOME is not set"; fi
  if [[ "$AGENT_HOME" != /* ]]; then
    fail "$EXIT_INSTALL_BROKEN" "AGENT_HOME must be an absolute path, got '$AGENT_HOME'"
  fi
  if [[ ! -d "$AGENT_HOME" ]]; then
    fail "$EXIT_INSTALL_BROKEN" "agent home $AGENT_HOME does not exist or is not a directory"
  fi
  if [[ "${CONTROL_SCRIPT:-}" == /* || "${CONTROL_SCRIPT:-}" == *..* ]]; then
    fail "$EXIT_INSTALL_BROKEN" "CONTROL_SCRIPT must be a path inside AGENT_HOME, got '${CONTROL_SCRIPT}'"
  fi
  CTL="$AGENT_HOME/${CONTROL_SCRIPT:-bin/ocp_agentctl}"
  if [[ ! -f "$CTL" ]]; then fail "$EXIT_INSTALL_BROKEN" "control script $CTL is missing"; fi
  if [[ ! -x "$CTL" ]]; then fail "$EXIT_INSTALL_BROKEN" "control script $CTL is not executable"; fi
  RUN_DIR="$AGENT_HOME/run"
  if [[ ! -d "$RUN_DIR" ]]; then fail "$EXIT_INSTALL_BROKEN" "run directory $RUN_DIR is missing"; fi
  if [[ ! -w "$RUN_DIR" ]]; then fail "$EXIT_INSTALL_BROKEN" "run directory $RUN_DIR is not writable"; fi
}

pid_file() {
  printf '%s/%s.pid' "$RUN_DIR" "$1"
}

# Prints the pid recorded in a process's pid file, or nothing (no file, or not a pid).
recorded_pid() {
  local file line=''
  file=$(pid_file "$1")
  if [[ -f "$file" ]]; then
    { IFS= read -r line <"$file"; } 2>/dev/null || true
    line=${line//[[:space:]]/}
  fi
  if [[ "$line" =~ ^[1-9][0-9]{0,9}$ ]]; then printf '%s' "$line"; fi
}

# process_alive <name> <pid>: true when pid is a live process of that name. One of its arguments
# must be named <name> (so a reused pid is not mistaken for the agent), and a zombie (no cmdline)
# counts as gone.
process_alive() {
  local name=$1 pid=$2 arg
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 0
  while IFS= read -r -d '' arg; do
    if [[ "${arg##*/}" == "$name" ]]; then return 0; fi
  done <"/proc/$pid/cmdline" 2>/dev/null || return 1
  return 1
}

# Prints the pid of a running process, or nothing.
running_pid() {
  local pid
  pid=$(recorded_pid "$1")
  if [[ -n "$pid" ]] && process_alive "$1" "$pid"; then printf '%s' "$pid"; fi
}

# Prints a process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat), or nothing.
# Pids are reused once a process is gone: a pid and its start time name one process.
process_start_time() {
  local stat='' fields
  { IFS= read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  read -r -a fields <<<"${stat##*) }"
  printf '%s' "${fields[19]:-}"
}

# Removes a process's pid file if it does not name a live process of that name.
remove_stale_pid_file() {
  local file
  file=$(pid_file "$1")
  if [[ -f "$file" && -z "$(running_pid "$1")" ]]; then
    rm -f -- "$file"
    log "Removed stale pid file $file"
  fi
}

# wait_for_exit <deadline ms> <name> <pid> [<name> <pid>...]: waits until all are gone or the
# deadline passes; prints the "<name> <pid>" pairs still alive (one a line).
wait_for_exit() {
  local deadline=$1 i alive
  shift
  local -a pairs=("$@")
  while :; do
    alive=''
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
      if process_alive "${pairs[i]}" "${pairs[i + 1]}"; then
        alive+="${pairs[i]} ${pairs[i + 1]}"$'\n'
      fi
    done
    if [[ -z "$alive" || "$(now_ms)" -ge "$deadline" ]]; then break; fi
    sleep 0.05
  done
  printf '%s' "$alive"
}

# stop_processes <name...>: SIGTERM, wait STOP_GRACE_SECONDS, SIGKILL the rest, wait
# KILL_WAIT_SECONDS. Returns 1 (after reporting on stderr) if a process is still alive.
stop_processes() {
  local name pid pair survivors i
  local -a targets=() killed=()
  for name in "$@"; do
    pid=$(running_pid "$name")
    if [[ -z "$pid" ]]; then
      log "$name is not running"
      continue
    fi
    log "Stopping $name (pid $pid): SIGTERM"
    kill -TERM "$pid" 2>/dev/null || true
    targets+=("$name" "$pid")
  done
  if [[ ${#targets[@]} -eq 0 ]]; then return 0; fi

  log "Waiting up to $(format_seconds "$STOP_GRACE_MS") for the processes to exit"
  survivors=$(wait_for_exit "$(($(now_ms) + STOP_GRACE_MS))" "${targets[@]}")
  if [[ -n "$survivors" ]]; then
    while read -r name pid; do
      log "$name (pid $pid) did not exit within $(format_seconds "$STOP_GRACE_MS"): SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      killed+=("$name" "$pid")
    done <<<"$survivors"
    survivors=$(wait_for_exit "$(($(now_ms) + KILL_WAIT_MS))" "${killed[@]}")
    if [[ -n "$survivors" ]]; then
      while read -r pair; do
        printf '%s: ERROR: %s is still running %s after SIGKILL\n' \
          "$SCRIPT_NAME" "$pair" "$(format_seconds "$KILL_WAIT_MS")" >&2
      done <<<"$survivors"
      return 1
    fi
  fi
  for ((i = 0; i < ${#targets[@]}; i += 2)); do
    log "${targets[i]} (pid ${targets[i + 1]}) stopped"
  done
}

# Closes every file descriptor above 2 of the current shell (call it in the subshell that execs).
close_inherited_fds() {
  local fd_path fd
  for fd_path in /proc/"$BASHPID"/fd/*; do
    fd=${fd_path##*/}
    if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)); then exec {fd}>&-; fi
  done
}

# run_detached <limit ms> <command...>: runs the command (the control script, which may not detach
# what it starts) in a session of its own, stdin from /dev/null, stdout and stderr appended to
# $RUN_DIR/ocp_agentctl-start.out and .err, no other descriptor inherited, SIGKILLed at the limit
# (SIGTERM may be ignored, and `timeout` would wait for the command past it); then copies what it
# wrote there to our stdout and stderr and returns its exit status (137, or 124, when out of time).
# Why: the SSM agent ends a command only when its stdout and stderr pipes close, and on timeout or
# cancel SIGKILLs its process group, so a process started holding a pipe would hang the command
# and one left in its group would die with it. setsid(1) forks (and stops reporting the status)
# only when called as a process group leader, which the child `timeout` forks never is.
# --foreground: `timeout` does not SIGKILL itself with the command, so bash reports no "Killed".
run_detached() {
  local limit_ms=$1 out="$RUN_DIR/ocp_agentctl-start.out" err="$RUN_DIR/ocp_agentctl-start.err"
  local file out_size err_size status=0
  shift
  # Processes may keep these files open: truncate only files grown past 1 MiB, never remove them.
  for file in "$out" "$err"; do
    if [[ -f "$file" && $(stat -c %s -- "$file") -gt 1048576 ]]; then : >"$file"; fi
  done
  out_size=$(stat -c %s -- "$out" 2>/dev/null || printf 0)
  err_size=$(stat -c %s -- "$err" 2>/dev/null || printf 0)
  (
    close_inherited_fds
    exec timeout --foreground --signal=KILL "$(format_seconds "$limit_ms")" setsid "$@"
  ) </dev/null >>"$out" 2>>"$err" || status=$?
  tail -c +"$((out_size + 1))" -- "$out" 2>/dev/null || true
  tail -c +"$((err_size + 1))" -- "$err" >&2 2>/dev/null || true
  return "$status"
}

# start_processes <name...>: starts the named processes that are not running through the control
# script (as the install's owner when run as root) detached from this script (run_detached), and
# waits for each to have a live pid: all within START_WAIT_SECONDS. Exits 4 on failure.
start_processes() {
  local wait_ms=$START_WAIT_MS deadline name status pending owner limit_ms
  local -a to_start=()
  for name in "$@"; do
    if [[ -n "$(running_pid "$name")" ]]; then
      log "$name is already running (pid $(running_pid "$name"))"
    else
      to_start+=("$name")
    fi
  done
  if [[ ${#to_start[@]} -eq 0 ]]; then return 0; fi

  deadline=$(($(now_ms) + wait_ms))
  log "Starting ${to_start[*]} with $CTL"
  local -a ctl_start=("$CTL" start "${to_start[@]}")
  owner=$(stat -c %U -- "$AGENT_HOME")
  if [[ $EUID -eq 0 && "$owner" != root && "$owner" != UNKNOWN ]]; then
    # SSM runs as root; the agent runs as the install's owner, as when OCP starts it.
    if ! command -v runuser >/dev/null; then
      fail "$EXIT_INSTALL_BROKEN" "runuser is needed to start the agent as $owner, the owner of $AGENT_HOME"
    fi
    log "Running $CTL as $owner, the owner of $AGENT_HOME"
    ctl_start=(runuser -u "$owner" -- "${ctl_start[@]}")
  fi
  # At least 1 ms: `timeout 0` would not time out at all.
  limit_ms=$((deadline - $(now_ms)))
  if ((limit_ms < 1)); then limit_ms=1; fi
  status=0
  run_detached "$limit_ms" "${ctl_start[@]}" || status=$?
  if [[ ($status -eq 124 || $status -eq 137) && "$(now_ms)" -ge "$deadline" ]]; then
    fail "$EXIT_START_FAILED" "$CTL start ${to_start[*]} did not finish within $(format_seconds "$wait_ms") (SIGKILLed)"
  elif [[ $status -ne 0 ]]; then
    fail "$EXIT_START_FAILED" "$CTL start ${to_start[*]} failed with exit status $status"
  fi
  while :; do
    pending=''
    for name in "${to_start[@]}"; do
      if [[ -z "$(running_pid "$name")" ]]; then pending+=" $name"; fi
    done
    if [[ -z "$pending" ]]; then break; fi
    if [[ "$(now_ms)" -ge "$deadline" ]]; then
      fail "$EXIT_START_FAILED" "no live pid within $(format_seconds "$wait_ms") for:$pending"
    fi
    sleep 0.05
  done
  for name in "${to_start[@]}"; do
    log "$name is up (pid $(running_pid "$name"))"
  done
}

# State shared by one restart's scripts: prepare writes it, finish verifies and removes it.
restart_state_dir() {
  printf '%s/restart' "$RUN_DIR"
}
