# The Slurm half of `mljob hosts check` for an entry of kind slurm, run on
# its login node as: sh -c PROGRAM mljob-slurm-check NENV ENV... PARTITION...
# Values arrive as positional parameters, never as program text.
#
# It prints records, one line "NAME RC ARG" each, followed by the lines of
# a command's output prefixed "> ". Besides Slurm's commands it uses shell
# builtins only: the entry's env may set a PATH without the usual tools.
nenv=$1
shift
while [ "$nenv" -gt 0 ]; do
  export "$1" || exit 94
  shift
  nenv=$((nenv - 1))
done

# rec NAME RC ARG TEXT writes one record.
rec() {
  printf '%s %s %s\n' "$1" "$2" "$3"
  if [ -n "$4" ]; then
    printf '%s\n' "$4" | while IFS= read -r l; do printf '> %s\n' "$l"; done
  fi
}

rec path 0 '' "$PATH"
for c in sbatch squeue scancel sacct sinfo; do
  rec command 0 "$c" "$(command -v "$c")"
done
# Slurm's commands retry a config file that is not there for a minute.
if [ -n "${SLURM_CONF:-}" ] && [ ! -r "$SLURM_CONF" ]; then
  rec conf-missing 1 '' "$SLURM_CONF"
  exit 0
fi
if command -v sbatch > /dev/null; then
  o=$(sbatch --version 2>&1)
  rec version $? '' "$o"
fi
command -v squeue > /dev/null || exit 0

# The controller answers: squeue of one's own jobs asks it, and prints
# little. Its output matters only when it fails.
u=${USER:-${LOGNAME:-$(id -un 2> /dev/null)}}
if [ -n "$u" ]; then
  o=$(squeue -h -u "$u" -o %i 2>&1)
else
  o=$(squeue -h -o %i 2>&1)
fi
rc=$?
[ "$rc" -eq 0 ] && o=
rec controller "$rc" '' "$o"
[ "$rc" -eq 0 ] || exit 0

if command -v sacct > /dev/null; then
  o=$(sacct -n -X -P -S now -E now -o JobID 2>&1)
  rc=$?
  [ "$rc" -eq 0 ] && o=
  rec sacct "$rc" '' "$o"
fi
command -v sinfo > /dev/null || exit 0
o=$(sinfo -h -o %P 2>&1)
rec partitions $? '' "$o"
for p in "$@"; do
  o=$(sinfo -h -p "$p" -o %P 2> /dev/null)
  rec partition $? "$p" "$o"
done
exit 0
