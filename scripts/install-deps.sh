#!/usr/bin/env bash
# install-deps.sh installs the Debian packages mljob's demo and tests need,
# and only those that are missing: running it twice installs nothing.
set -euo pipefail

packages=(
  openssh-server   # sshd: the tests' simulated hosts
  openssh-client   # ssh -G (config aliases), ssh-keygen, ssh-keyscan, ssh-agent
  python3-torch    # nn.py
  python3-sklearn
  python3-pandas
  python3-pytest   # python-scripts/tests
  util-linux       # setsid: detached runs
  chromium         # headless browser: the report's page test
  tmux             # a terminal for the dispatch live view test
  slurmctld        # internal/slurmtest: a single-node Slurm cluster
  slurmd
  slurm-client     # sbatch, scontrol, sinfo, scancel, squeue
  munge            # munged: Slurm's authentication
)

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
