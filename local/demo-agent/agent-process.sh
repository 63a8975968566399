#!/usr/bin/env bash
# Body of one demo agent process: agent-process.sh <name> <agent home>. Started by ocp_agentctl
# with argv[0] set to <name>. Writes run/<name>.pid and appends to log/<name>.log, then idles
# without child processes (a blocking `read` on a private FIFO) until signalled. It never closes
# the stdin, stdout and stderr it inherited (nor leaves its session), as a daemon that logs to
# files often does not. On SIGTERM it exits and removes
# its pid file, unless conf/stubborn (any process) or conf/hang-stop (all but pos_proxy) exists at
# that moment, in which case it ignores the signal. SIGKILL always works.
set -euo pipefail
name=$1
agent_home=$2
pid_file="$agent_home/run/$name.pid"
conf_dir="$agent_home/conf"
exec {log_fd}>>"$agent_home/log/$name.log"

say() {
  printf '%(%F %T)T %s[%s]: %s\n' -1 "$name" "$$" "$*" >&"$log_fd"
}

on_term() {
  if [[ -e "$conf_dir/stubborn" || (-e "$conf_dir/hang-stop" && "$name" != pos_proxy) ]]; then
    say 'SIGTERM ignored (demo mode)'
    return 0
  fi
  say 'SIGTERM received, exiting'
  local recorded=''
  { IFS= read -r recorded <"$pid_file"; } 2>/dev/null || true
  if [[ "$recorded" == "$$" ]]; then rm -f -- "$pid_file"; fi
  exit 0
}
trap on_term TERM

# A FIFO opened read-write never delivers EOF, so `read` blocks with no child process to orphan.
fifo="$agent_home/run/.$name.$$.fifo"
mkfifo -- "$fifo"
exec {idle_fd}<>"$fifo"
rm -f -- "$fifo"

printf '%s\n' "$$" >"$pid_file"
say "started"
while :; do
  read -r -t 3600 -u "$idle_fd" _ || true
done
