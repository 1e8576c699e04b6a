package sshworker

// The shell programs below are constants: every value that comes from a job
// or a hosts file reaches them as a positional parameter ("$1"), never as
// program text, so no field can inject a command. They are POSIX sh (dash,
// bash, busybox ash) and use only coreutils found on any Linux host.

// expandWorkdir turns a leading ~ of $wd into $HOME: the workdir is quoted
// on the way in, so the host's shell does not expand it for us.
// A relative workdir is taken from the login directory (the cwd of a
// local run), and made absolute so that cache links resolve from run dirs.
const expandWorkdir = `case $wd in "~") wd=$HOME ;; "~/"*) wd=$HOME/${wd#"~/"} ;; esac
case $wd in /*) ;; *) wd=$PWD/$wd ;; esac
`

// aliveFunc defines alive PID: true while the process exists and is not a
// zombie. Signal 0 alone is not enough: a killed process whose parent died
// lingers as a zombie until init reaps it, and some inits never do.
const aliveFunc = `alive() {
  st=$(ps -o stat= -p "$1" 2> /dev/null) || return 1
  case $st in Z* | "") return 1 ;; esac
  return 0
}
`

// procIdentFunc defines proc_ident PID: it sets ident_start to the
// process's start time (/proc/PID/stat field 22, clock ticks after boot)
// and ident_boot to the boot id, each "-" where the host cannot tell (not
// Linux). With the pid they name one process across pid reuse and reboots.
// The command name (field 2) may hold spaces and ')': fields count from the
// last ") ". Builtins only.
const procIdentFunc = `proc_ident() {
  ident_start=- ident_boot=- ident_state=
  read -r ident_boot 2> /dev/null < /proc/sys/kernel/random/boot_id || ident_boot=-
  _pi_st=
  read -r _pi_st 2> /dev/null < "/proc/$1/stat" || return 0
  _pi_st=${_pi_st##*) }
  set -- $_pi_st
  ident_state=$1
  [ $# -ge 20 ] && ident_start=${20}
  return 0
}
`

// runAliveFunc defines run_alive DIR: true while the wrapper that DIR/pid
// names runs. That file holds the pid, then (runs of this mljob) the
// wrapper's start time and the boot id, as proc_ident gives them: both
// must match, so a pid reused after a reboot or by a later process is never
// taken for the run, waited on or signalled. A run dir of an older mljob
// (pid only), or of a host without /proc, is judged by the pid (alive).
// agent.py's run_alive is its twin.
const runAliveFunc = aliveFunc + procIdentFunc + `run_alive() {
  _ra_pid= _ra_start= _ra_boot=
  { read -r _ra_pid; read -r _ra_start _ra_boot; } 2> /dev/null < "$1/pid"
  case $_ra_pid in '' | *[!0-9]*) return 1 ;; esac
  [ "$_ra_pid" -gt 0 ] || return 1
  case $_ra_start in '' | -) alive "$_ra_pid"; return ;; esac
  proc_ident "$_ra_pid"
  [ "$ident_start" = "$_ra_start" ] || return 1
  [ "$_ra_boot" = - ] || [ "$ident_boot" = "$_ra_boot" ] || return 1
  case $ident_state in Z | X | x) return 1 ;; esac
  return 0
}
`

// frameResult prints the result of the run in the current dir: the exit
// code (or "none" when the wrapper never wrote one), its cost line when
// the wrapper wrote one (run.ParseCost), MLJOB-NOARTIFACTS when the run
// dir holds no artifacts/ dir, MLJOB-ENV and the environment report's line
// when a batch task wrote one (.env.json), then stdout and stderr. When both fit their limits (the common case) one wc and one cat
// send them whole, framed by their sizes; otherwise each gets its full size
// and a tail. Builtins where they do: each program started costs the host
// about a millisecond.
const frameResult = `code=none
[ -s exit_code ] && read -r code < exit_code
if [ -s cost ] && read -r c < cost; then printf 'MLJOB-COST %s\n' "$c"; fi
[ -d artifacts ] || printf 'MLJOB-NOARTIFACTS\n'
if [ -s .env.json ] && IFS= read -r e < .env.json; then printf 'MLJOB-ENV %s\n' "$e"; fi
printf 'MLJOB-RESULT %s\n' "${code:-none}"
so=0 se=0
[ -e stdout ] || true > stdout 2> /dev/null
[ -e stderr ] || true > stderr 2> /dev/null
if [ -s stdout ] || [ -s stderr ]; then
  set -- $(wc -c stdout stderr)
  so=$1 se=$3
fi
if [ "$so" -le "$outlim" ] && [ "$se" -le "$errlim" ]; then
  printf 'MLJOB-FILES %s %s\n' "$so" "$se"
  [ $((so + se)) -gt 0 ] && cat stdout stderr
  exit 0
fi
for f in stdout stderr; do
  if [ "$f" = stdout ]; then lim=$outlim size=$so; else lim=$errlim size=$se; fi
  take=$size
  [ "$take" -gt "$lim" ] && take=$lim
  printf 'MLJOB-FILE %s %s %s\n' "$f" "$size" "$take"
  [ "$take" -gt 0 ] && tail -c "$take" "$f"
done
exit 0
`

// The run's wrapper is agent.py itself, run as "PYTHON -c <agent.py>
// mljob-wrap ARGFILE COMMAND..." in the run dir (wrap_main there): the
// same program, and so the same process model, as a run the agent starts.
// A shell cannot give the script a process group of its own without a
// terminal, nor make the wrapper a subreaper, nor tell how the script
// ended after it killed its own group; see ARCHITECTURE.md.

// umaskWorkdir keeps job data from other users of the host: everything
// made from here on is 0700/0600, and the workdir's cache and runs (and
// the workdir itself, unless it is the home dir) are closed if an older
// mljob left them open.
const umaskWorkdir = `umask 077
mkdir -p "$wd/cache" "$wd/runs" || exit 90
chmod go-rwx "$wd/cache" "$wd/runs" 2> /dev/null
[ "$wd" = "$HOME" ] || chmod go-rwx "$wd" 2> /dev/null
`

// fillRunDir claims the run dir $run and fills it: $input (stdin, $inlen
// bytes) and $n cache links, whose (name hash) pairs lead the positional
// parameters and are shifted off. It leaves the shell in the run dir.
const fillRunDir = `# Making the run dir is the claim on it: one start per attempt, ever.
if ! mkdir "$run" 2> /dev/null; then
  mkdir -p "$wd/runs" || exit 90
  if ! mkdir "$run" 2> /dev/null; then
    echo "mljob: run dir $run was already used; refusing to start over it" >&2
    exit 91
  fi
fi
cd "$run" || exit 90
if [ -n "$input" ]; then
  cat > "$input" || exit 92
  # A session cut mid-way looks like a short stdin: never start on it.
  got=$(wc -c < "$input")
  if [ "$((got + 0))" -ne "$inlen" ]; then
    echo "mljob: $input arrived truncated: $((got + 0)) of $inlen bytes" >&2
    exit 92
  fi
fi
while [ "$n" -gt 0 ]; do
  # A hard link, not a symlink: Python puts the directory of the script's
  # real path on sys.path, and that must be the run dir, where the script's
  # sibling modules are linked too. cp where the cache is on another device.
  ln -f "$wd/cache/$2" "$1" 2> /dev/null || cp "$wd/cache/$2" "$1" || exit 93
  shift 2
  n=$((n - 1))
done
`

// startScript prepares a run dir, starts the wrapper detached and waits on
// it. The wrapper (agent.py's wrap_main) sets its own session and the
// script's process group; TERM, INT and HUP are ignored until its handlers
// are set, and a stop sent meanwhile is seen in .stop (see killScript).
// argv: $1 python, $2 wrapper program, $3 workdir, $4 run id, $5 input
// name, $6 input size, $7 argfile, $8 stdout tail, $9 stderr tail, $10 n
// files, then n pairs (name hash), then n env, then n KEY=VALUE words, then
// the command.
const startScript = `py=$1 wrap=$2 wd=$3 id=$4 input=$5 inlen=$6 argfile=$7 outlim=$8 errlim=$9
shift 9
n=$1
shift
umask 077
` + expandWorkdir + procIdentFunc + `run=$wd/runs/$id
` + fillRunDir + `n=$1
shift
while [ "$n" -gt 0 ]; do
  export "$1" || exit 94
  shift
  n=$((n - 1))
done
command -v "$py" > /dev/null 2>&1 || { echo "mljob: $py not found on this host: the run's wrapper needs it (set python: in the hosts file)" >&2; exit 95; }
# The start token (see attachScript), taken before the launch: noclobber
# makes the redirection an exclusive create, without a process of its own.
set -C
if ! { echo "$$" > .go; } 2> /dev/null; then
  echo "mljob: run dir $run was fenced off; refusing to start" >&2
  exit 91
fi
set +C
# A background job of a non-interactive shell is never a process group
# leader, so the wrapper's setsid works, and $! is the wrapper.
( trap '' TERM INT HUP; exec "$py" -c "$wrap" mljob-wrap "$argfile" "$@" ) < /dev/null > /dev/null 2>&1 &
pid=$!
proc_ident "$pid"
printf '%s\n%s %s\n' "$pid" "$ident_start" "$ident_boot" > pid
printf 'MLJOB-STARTED %s %s\n' "$pid" "$run"
wait "$pid"
` + frameResult

// leaseScript takes a run's leases on the shell path, before anything of
// the run exists on the host, and then execs the command after it (sh -c
// startScript ...) holding them: agent.py's lease_main. The start script's
// wrapper inherits them and keeps them for the run's life; the script
// itself does not (close-on-exec). A lease held by another run exits 97
// (exitLeaseBusy). argv: $1 python, $2 the leases (run.Lease as JSON),
// then the command: sh -c startScript mljob-run PYTHON AGENT ..., whose
// agent.py source (its sixth word) is the one the leases are taken with.
// The source travels once: the whole command is one argument of the
// host's shell, which Linux caps at 128 KiB, and agent.py is half that.
const leaseScript = `py=$1 lease=$2
shift 2
wrap=$6
command -v "$py" > /dev/null 2>&1 || { echo "mljob: $py not found on this host: the run's wrapper needs it (set python: in the hosts file)" >&2; exit 95; }
exec "$py" -c "$wrap" mljob-lease "$lease" "$@"
`

// runTimes prints when the run started and ended by the host's clock: the
// mtimes of its pid file (written as the wrapper starts) and of exit_code
// (written as the script ends; now, when there is none). A run collected by
// another dispatcher than the one that started it is timed by these, not by
// when the collector began to wait. "-" where the host's date cannot say
// (no GNU or BusyBox date -r).
const runTimes = `ts=$(date -r pid +%s.%N 2> /dev/null) || ts=-
te=$(date -r exit_code +%s.%N 2> /dev/null) || te=$(date +%s.%N 2> /dev/null) || te=-
printf 'MLJOB-TIMES %s %s\n' "$ts" "$te"
`

// attachScript waits for a run that was started earlier (by this or another
// dispatcher) and prints its result. A live pid is polled once a second: it
// is not our child, so there is nothing to wait(2) on.
//
// A run whose start never came, or is still on its way from a dispatcher
// that died, is fenced off for good before exit 96 ("never started"): the
// run dir is made and the ".go" start token taken, so a late start refuses
// it. So an attempt reported as never started cannot run later beside its
// retry. A start holding the token writes the pid next; if it never does,
// it was killed in between, and the pid 0 reads as a lost run.
// argv: $1 workdir, $2 run id, $3 stdout tail, $4 stderr tail.
const attachScript = `wd=$1 id=$2 outlim=$3 errlim=$4
umask 077
` + expandWorkdir + runAliveFunc + `run=$wd/runs/$id
[ -d "$run" ] || mkdir -p "$run" 2> /dev/null
cd "$run" 2> /dev/null || exit 96
set -C
if { echo fenced > .go; } 2> /dev/null; then
  : > .fenced
  exit 96
fi
set +C
[ -e .fenced ] && exit 96
i=0
while [ ! -s pid ] && [ "$i" -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
pid=0
[ -s pid ] && read -r pid < pid
printf 'MLJOB-STARTED %s %s\n' "$pid" "$run"
while [ ! -f exit_code ] && run_alive .; do sleep 1; done
` + runTimes + frameResult

// checkCacheScript prints the hashes missing from the cache.
// argv: $1 workdir, then hashes.
const checkCacheScript = `wd=$1
shift
` + expandWorkdir + umaskWorkdir + `for h in "$@"; do [ -f "$wd/cache/$h" ] || echo "$h"; done
`

// uploadScript stores stdin as cache/<hash>, atomically: a reader never
// sees a partial file. argv: $1 workdir, $2 hash, $3 expected size.
const uploadScript = `wd=$1 h=$2 want=$3
` + expandWorkdir + umaskWorkdir + `
tmp=$wd/cache/.$h.$$
cat > "$tmp" || { rm -f "$tmp"; exit 92; }
got=$(wc -c < "$tmp")
if [ "$((got + 0))" -ne "$want" ]; then rm -f "$tmp"; echo "mljob: upload of $h truncated: $got of $want bytes" >&2; exit 97; fi
chmod a-w "$tmp" && mv -f "$tmp" "$wd/cache/$h"
`

// probeScript reports the 1-minute load, which of the given runs are
// alive (run_alive), and GPU utilisation where nvidia-smi exists.
// argv: $1 workdir, then run ids.
const probeScript = `wd=$1
shift
` + expandWorkdir + runAliveFunc + `if [ -r /proc/loadavg ]; then read l1 rest < /proc/loadavg; else l1=$(sysctl -n vm.loadavg 2> /dev/null | tr -d '{}' | awk '{print $1}'); fi
echo "load ${l1:-0}"
for r in "$@"; do run_alive "$wd/runs/$r" && echo "alive $r"; done
if command -v nvidia-smi > /dev/null 2>&1; then
  nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader,nounits 2> /dev/null | tr -d ' ' | sed 's/^/gpu /'
fi
exit 0
`

// killScript stops the run in a run dir. It signals nothing unless
// run_alive says the run's wrapper still runs: a pid reused by another
// process after the run ended is never touched.
//
// A wrapper of this mljob (its pid file holds its start time) ends the run
// itself: the script writes the grace to .stop and sends it TERM; the
// wrapper takes .stop (see take_stop in agent.py), TERMs every process of
// the run, KILLs what is left after the grace and then writes the exit
// code. The script waits for the wrapper to take the stop (a wrapper just
// started sets its handlers first), then a moment for the run to end, not
// the grace: it prints "gone" when the wrapper has ended, "stopping" when
// it is still at it.
//
// An older run (pid only) is stopped as its shell wrapper expects: TERM to
// its process group, then, if anything of the group is left after grace
// tenths of a second, KILL. Killed processes linger as zombies until
// reaped, and signal 0 still reaches a zombie, so the group's live members
// are counted with ps.
// argv: $1 workdir, $2 run id, $3 grace in tenths of a second.
const killScript = `wd=$1 id=$2 grace=$3
` + expandWorkdir + runAliveFunc + `run=$wd/runs/$id
[ -f "$run/pid" ] || exit 96
{ read -r pid; read -r start rest; } 2> /dev/null < "$run/pid"
case $pid in '' | *[!0-9]*) exit 96 ;; esac
if [ -n "$start" ]; then
  run_alive "$run" || { echo gone; exit 0; }
  echo "$grace" > "$run/.stop"
  kill -s TERM "$pid" 2> /dev/null
  # The wrapper takes .stop (renames it .stopping) once its handlers are
  # set: from then on the run's end is certain, within the grace.
  i=0
  while [ -f "$run/.stop" ] && run_alive "$run" && [ "$i" -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  i=0
  while run_alive "$run" && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  if run_alive "$run"; then echo stopping; else echo gone; fi
  exit 0
fi
alive "$pid" || { echo gone; exit 0; }
group_alive() {
  ps -eo pgid=,stat= | awk -v g="$pid" '$1 == g && $2 !~ /^Z/ { n++ } END { exit n == 0 }'
}
kill -s TERM -- "-$pid" 2> /dev/null || kill -s TERM "$pid" 2> /dev/null
i=0
while group_alive && [ "$i" -lt "$grace" ]; do
  sleep 0.1
  i=$((i + 1))
  # Again each second: a process started after the first TERM gets one too.
  [ $((i % 10)) -eq 0 ] && kill -s TERM -- "-$pid" 2> /dev/null
done
if group_alive; then
  kill -s KILL -- "-$pid" 2> /dev/null
  i=0
  while group_alive && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
fi
group_alive || echo gone
exit 0
`
