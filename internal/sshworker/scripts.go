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

// frameResult prints the result of the run in the current dir: the exit
// code (or "none" when the wrapper never wrote one), then stdout and
// stderr. When both fit their limits (the common case) one wc and one cat
// send them whole, framed by their sizes; otherwise each gets its full size
// and a tail. Builtins where they do: each program started costs the host
// about a millisecond.
const frameResult = `code=none
[ -s exit_code ] && read -r code < exit_code
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

// wrapScript runs inside its own session (setsid): it runs the command
// with stdout and stderr to files, and writes the exit code atomically when
// the command ends, whatever the exit status.
// argv: $1 = argfile ("" for none), $2... = the command.
//
// The trap matters: Kill signals the whole process group, wrapper included.
// A handled (not ignored) TERM lets the wrapper outlive the script long
// enough to write its exit code, while the script, after exec, gets the
// default action.
//
// ${#arg} counts characters, never more than bytes; only past 32,000 of
// them can the argument exceed the 131,000 bytes that keep one argv word
// under Linux's MAX_ARG_STRLEN (131,072), and only then is it measured.
const wrapScript = `trap 'signalled=1' TERM INT HUP
argfile=$1
shift
if [ -n "$argfile" ]; then
  arg=$(cat "$argfile")
  if [ "${#arg}" -gt 32000 ] && [ "$(wc -c < "$argfile")" -gt 131000 ]; then
    set -- "$@" "$argfile"
  else
    set -- "$@" "$arg"
  fi
fi
# A TERM that came while the argument was read (the trap runs between
# commands) means the run was stopped before its script began.
if [ -n "$signalled" ]; then
  code=143
else
  "$@" > stdout 2> stderr
  code=$?
fi
echo "$code" > exit_code.tmp && mv exit_code.tmp exit_code
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
// it. The 131000-byte bound in wrapScript keeps one argv word under Linux's
// MAX_ARG_STRLEN (131072).
// argv: $1 wrap script, $2 workdir, $3 run id, $4 input name, $5 input
// size, $6 argfile, $7 stdout tail, $8 stderr tail, $9 n files, then n
// pairs (name hash), then n env, then n KEY=VALUE words, then the command.
const startScript = `wrap=$1 wd=$2 id=$3 input=$4 inlen=$5 argfile=$6 outlim=$7 errlim=$8 n=$9
shift 9
` + expandWorkdir + `run=$wd/runs/$id
` + fillRunDir + `n=$1
shift
while [ "$n" -gt 0 ]; do
  export "$1" || exit 94
  shift
  n=$((n - 1))
done
command -v setsid > /dev/null 2>&1 || { echo "mljob: setsid not found on this host (install util-linux)" >&2; exit 95; }
# The start token (see attachScript), taken before the launch: noclobber
# makes the redirection an exclusive create, without a process of its own.
set -C
if ! { echo "$$" > .go; } 2> /dev/null; then
  echo "mljob: run dir $run was fenced off; refusing to start" >&2
  exit 91
fi
set +C
# No fork in setsid: a background job of a non-interactive shell is never a
# process group leader, so $! is the wrapper and its process group id.
setsid -w sh -c "$wrap" mljob-wrap "$argfile" "$@" < /dev/null > /dev/null 2>&1 &
pid=$!
echo "$pid" > pid
printf 'MLJOB-STARTED %s %s\n' "$pid" "$run"
wait "$pid"
` + frameResult

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
` + expandWorkdir + aliveFunc + `run=$wd/runs/$id
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
while [ ! -f exit_code ] && alive "$pid"; do sleep 1; done
` + runTimes + frameResult

// checkCacheScript prints the hashes missing from the cache.
// argv: $1 workdir, then hashes.
const checkCacheScript = `wd=$1
shift
` + expandWorkdir + `mkdir -p "$wd/cache" "$wd/runs" || exit 90
for h in "$@"; do [ -f "$wd/cache/$h" ] || echo "$h"; done
`

// uploadScript stores stdin as cache/<hash>, atomically: a reader never
// sees a partial file. argv: $1 workdir, $2 hash, $3 expected size.
const uploadScript = `wd=$1 h=$2 want=$3
` + expandWorkdir + `mkdir -p "$wd/cache" || exit 90
tmp=$wd/cache/.$h.$$
cat > "$tmp" || { rm -f "$tmp"; exit 92; }
got=$(wc -c < "$tmp")
if [ "$((got + 0))" -ne "$want" ]; then rm -f "$tmp"; echo "mljob: upload of $h truncated: $got of $want bytes" >&2; exit 97; fi
chmod a-w "$tmp" && mv -f "$tmp" "$wd/cache/$h"
`

// probeScript reports the 1-minute load, which of the given pids are alive,
// and GPU utilisation where nvidia-smi exists. argv: pids.
const probeScript = aliveFunc + `if [ -r /proc/loadavg ]; then read l1 rest < /proc/loadavg; else l1=$(sysctl -n vm.loadavg 2> /dev/null | tr -d '{}' | awk '{print $1}'); fi
echo "load ${l1:-0}"
for p in "$@"; do alive "$p" && echo "alive $p"; done
if command -v nvidia-smi > /dev/null 2>&1; then
  nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader,nounits 2> /dev/null | tr -d ' ' | sed 's/^/gpu /'
fi
exit 0
`

// killScript stops the run in a run dir: TERM to its process group, then,
// if anything of the group is left after grace tenths of a second, KILL.
// It prints "gone" when the group has ended. Killed processes linger as
// zombies until reaped, and signal 0 still reaches a zombie, so the group's
// live members are counted with ps. argv: $1 workdir, $2 run id, $3 grace
// in tenths of a second.
const killScript = `wd=$1 id=$2 grace=$3
` + expandWorkdir + `run=$wd/runs/$id
pid=$(cat "$run/pid" 2> /dev/null) || exit 96
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
