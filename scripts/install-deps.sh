#!/usr/bin/env bash
# install-deps.sh [demo|test] installs the Debian packages that `make demo`
# (demo) or the tests (test, the default: the demo's and the tests' own)
# need, and only those that are missing: running it twice installs nothing.
# `install-deps.sh --list demo|test` prints the set, one package a line.
set -euo pipefail

# What `make demo` runs: bin/mljob dispatching python-scripts/nn.py on this
# machine with /usr/bin/python3. Go itself is not a Debian package here.
demo_packages=(
  python3-numpy    # nn.py's imports: numpy, pandas, torch, sklearn
  python3-pandas
  python3-torch
  python3-sklearn
  util-linux       # setsid: detached runs
)

# What only the tests need, on top of the demo's.
test_packages=(
  openssh-server   # sshd: the tests' simulated hosts
  openssh-client   # ssh -G (config aliases), ssh-keygen, ssh-keyscan, ssh-agent
  python3-pytest   # python-scripts/tests
  python3-optuna   # internal/prune: the pruner's parity test against Optuna
  chromium         # headless browser: the report's page test
  tmux             # a terminal for the dispatch live view test
  slurmctld        # internal/slurmtest: a single-node Slurm cluster
  slurmd
  slurm-client     # sbatch, scontrol, sinfo, scancel, squeue
  munge            # munged: Slurm's authentication
)

list=false
if [ "${1:-}" = --list ]; then
  list=true
  shift
fi
case "${1:-test}" in
  demo) packages=("${demo_packages[@]}") ;;
  test) packages=("${demo_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 [--list] [demo|test]" >&2; exit 2 ;;
esac
if $list; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
echo "Installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
