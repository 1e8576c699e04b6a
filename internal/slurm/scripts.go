package slurm

import "github.com/mljob/mljob/internal/sshworker"

// The shell programs below are constants, like sshworker's: every value from
// a job or a hosts file reaches them as a positional parameter, never as
// program text. Each begins by exporting the entry's env words, so sbatch,
// squeue, sacct and scancel see them (SLURM_CONF, a module path, ...).

// exportEnv exports $nenv KEY=VALUE words from the positional parameters.
const exportEnv = `while [ "$nenv" -gt 0 ]; do
  export "$1" || exit 94
  shift
  nenv=$((nenv - 1))
done
`

// submitScript writes the array's list of run ids, installs the task script
// when the workdir lacks it, submits one sbatch array over the list and
// writes each task's id ("JOB_INDEX") into its run dir's .task file.
// argv: $1 workdir, $2 task script text, $3 its hash, $4 throttle, $5 nenv,
// env words, then the number of runs, the run ids, then the entry's own
// sbatch options.
//
// --no-requeue: a task Slurm requeued would find its start token taken and
// refuse to run; mljob retries lost runs itself, as new attempts.
const submitScript = `wd=$1 text=$2 hash=$3 throttle=$4 nenv=$5
shift 5
` + sshworker.ExpandWorkdir + exportEnv + `nrun=$1
shift
# Job data is the user's alone: what this makes, and what sbatch's tasks
# make (Slurm passes the umask on), is 0700/0600.
umask 077
mkdir -p "$wd/slurm" || exit 90
chmod go-rwx "$wd/slurm" 2> /dev/null
task=$wd/slurm/task-$hash.sh
if [ ! -f "$task" ]; then
  printf '%s' "$text" > "$task.$$" && chmod 700 "$task.$$" && mv -f "$task.$$" "$task" || exit 90
fi
list=$wd/slurm/$1.runs
: > "$list.tmp" || exit 90
i=0
while [ "$i" -lt "$nrun" ]; do
  printf '%s\n' "$1" >> "$list.tmp" || exit 90
  shift
  i=$((i + 1))
done
mv -f "$list.tmp" "$list" || exit 90
out=$(sbatch --parsable --no-requeue --array="0-$((nrun - 1))%$throttle" --job-name=mljob \
  --output="$wd/slurm/%A_%a.out" --chdir="$wd" "$@" "$task" "$wd" "$list") || exit 97
job=${out%%;*}
case $job in
'' | *[!0-9]*)
  echo "mljob: sbatch printed no job id: $out" >&2
  exit 97
  ;;
esac
i=0
while read -r id; do
  printf '%s_%s\n' "$job" "$i" > "$wd/runs/$id/.task"
  i=$((i + 1))
done < "$list"
printf 'MLJOB-SUBMITTED %s\n' "$job"
`

// pollScript reports each run dir's state and what squeue knows of their
// tasks, in one session. Per run: "run ID TASK STATE [START END]", TASK "-"
// when the dir has no .task, STATE one of done (exit_code written; START
// and END in seconds since the epoch, "-" when unknown), fenced, started
// (the start token is taken), prepared, missing. Then, when any task is
// known, squeue's lines between "squeue" and "squeue-end STATUS". Last,
// for the runs given as ID@OFFSET, their progress lines from OFFSET, read
// by $py running $agent (sshworker.ProgressProgram) after a "progress"
// line: frames "R ID END N" and N bytes (see sshworker.ReadRunFrames).
// argv: $1 workdir, $2 python, $3 agent.py, $4 nenv, env words, then run
// ids, each with @OFFSET when its progress lines are asked for.
const pollScript = `wd=$1 py=$2 agent=$3 nenv=$4
shift 4
` + sshworker.ExpandWorkdir + exportEnv + `jobs= prog=
for id in "$@"; do
  off=
  case $id in *@*) off=${id#*@} id=${id%@*} ;; esac
  d=$wd/runs/$id
  if [ -n "$off" ]; then
    final=0
    [ -f "$d/exit_code" ] && final=1
    prog="$prog $id $off $final"
  fi
  task=-
  [ -s "$d/.task" ] && read -r task < "$d/.task"
  if [ -f "$d/exit_code" ]; then
    s=-
    [ -s "$d/.start" ] && read -r s < "$d/.start"
    e=$(date -r "$d/exit_code" +%s.%N 2> /dev/null) || e=-
    echo "run $id $task done $s $e"
  elif [ -e "$d/.fenced" ]; then
    echo "run $id $task fenced"
  elif [ -e "$d/.go" ]; then
    echo "run $id $task started"
  elif [ -d "$d" ]; then
    echo "run $id $task prepared"
  else
    echo "run $id $task missing"
  fi
  # Only JOB_INDEX made of digits: .task is a file on a shared disk.
  case $task in
  *_*) case ${task%_*}${task##*_} in '' | *[!0-9]*) ;; *) jobs="$jobs ${task%_*}" ;; esac ;;
  esac
done
if [ -n "$jobs" ]; then
  jobs=$(printf '%s\n' $jobs | sort -u | paste -sd, -)
  echo squeue
  squeue -h -r -t all -j "$jobs" -o '%i %T' 2>&1
  echo "squeue-end $?"
fi
[ -n "$prog" ] || exit 0
# The nodes' python may not be the login node's.
command -v "$py" > /dev/null 2>&1 || py=python3
echo progress
# Run ids are plain names: split on spaces, never globbed.
"$py" -c "$agent" mljob-progress-runs "$wd" $prog 2> /dev/null
exit 0
`

// sacctScript asks Slurm's accounting about tasks squeue no longer lists.
// argv: $1 nenv, env words, then $1 the job ids joined by commas.
const sacctScript = `nenv=$1
shift
` + exportEnv + `exec sacct -X -P -n --format=JobID,State -j "$1"
`

// cancelScript cancels the run's task and fences its run dir, so a task
// still waiting can never start even if Slurm lists it a while longer.
// exit 96: the run dir names no task (not submitted yet).
// argv: $1 workdir, $2 run id, $3 nenv, env words.
const cancelScript = `wd=$1 id=$2 nenv=$3
shift 3
umask 077
` + sshworker.ExpandWorkdir + exportEnv + `run=$wd/runs/$id
task=
[ -s "$run/.task" ] && read -r task < "$run/.task"
[ -n "$task" ] || exit 96
scancel "$task" || exit 97
cd "$run" || exit 0
set -C
{ echo fenced > .go; } 2> /dev/null && : > .fenced
exit 0
`

// endScript closes a run that ended without an exit code: it takes the
// start token when it is still free (so the run can never start), and
// writes .ended, so that followers of its output stop. It prints "fenced"
// when it took the token, "taken" when the run had begun.
// argv: $1 workdir, $2 run id.
const endScript = `wd=$1 id=$2
umask 077
` + sshworker.ExpandWorkdir + `run=$wd/runs/$id
mkdir -p "$run" 2> /dev/null
cd "$run" || exit 90
set -C
if { echo fenced > .go; } 2> /dev/null; then
  : > .fenced
  echo fenced
else
  echo taken
fi
set +C
: > .ended
`

// probeScript checks that the login node has Slurm's commands with the
// entry's env. argv: $1 nenv, env words.
const probeScript = `nenv=$1
shift
` + exportEnv + `for c in sbatch squeue scancel; do
  command -v "$c" > /dev/null 2>&1 || { echo "mljob: $c not found on the login node (PATH=$PATH)" >&2; exit 127; }
done
exit 0
`
