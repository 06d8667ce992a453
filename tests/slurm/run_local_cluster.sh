#!/usr/bin/env bash
# A one-node SLURM cluster on localhost (Debian's slurm-wlm and munge), and a 4-replicate
# simulation study run through snakemake-executor-plugin-slurm with profiles/slurm; its
# summary must equal a local run's, number for number.
#
# Needs root and apt (it installs and starts munged, slurmctld and slurmd); anywhere else
# it says why and exits 0 without doing anything. Not part of the pytest suite: it
# installs system packages and starts daemons. Usage, from the repository:
#
#   bash tests/slurm/run_local_cluster.sh [workdir]      (default /tmp/mlmice-slurm)
#
# The cluster has no accounting (no slurmdbd): the plugin's default status command,
# sacct, then answers "accounting storage is disabled" and Snakemake waits for ever. The
# profile therefore sets slurm-status-command: squeue, and slurm.conf keeps finished
# jobs visible to squeue for MinJobAge = 300 s (at least 120 is needed).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-/tmp/mlmice-slurm}"

if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "SKIP: needs root and apt-get to install and start a one-node SLURM cluster"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
python -m pip install -q snakemake-executor-plugin-slurm

# --- munge: one key, one daemon
if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged

# --- slurm.conf for this machine
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ {print int($2 / 1024) - 512}' /proc/meminfo)"
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=mlmice
SlurmctldHost=localhost
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
NodeName=localhost CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
pkill -x slurmctld || true
pkill -x slurmd || true
sleep 1
slurmctld
slurmd
for _ in $(seq 30); do
    sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed" && break
    sleep 1
done
sinfo

# --- the study: 4 replicates in 2 batches, one 2l.pan arm
rm -rf "$work" && mkdir -p "$work/slurm" "$work/local"
cat > "$work/config.yaml" <<'EOF'
studies:
  sim:
    data:
      simulate: {n_clusters: 12, cluster_size: 8, seed: 5}
      cluster: cluster_id
      id: unit_id
      level2: [experience_j]
    amputation:
      mech: MAR
      prop: 0.3
      seed: 3
      patterns:
        - {missing: [popularity_ij], weights: {assessment_ij: 1}}
    models:
      - {name: ri, formula: "popularity_ij ~ extraversion_ij + (1 | cluster_id)"}
    simulation:
      replicates: 4
      batch: 2
      seed: 4
      generator: {popularity: {n_clusters: 15, cluster_size: 8}}
      arms:
        pan:
          method: {popularity_ij: 2l.pan}
          predictor_matrix: {popularity_ij: {cluster_id: -2, extraversion_ij: 1,
                                             assessment_ij: 1}}
          m: 2
          maxit: 1
EOF
cp "$work/config.yaml" "$work/slurm/config.yaml"
cp "$work/config.yaml" "$work/local/config.yaml"
target="results/sim/simulation/summary.parquet"

start=$(date +%s)
python -m snakemake --snakefile "$repo/Snakefile" --directory "$work/slurm" \
    --profile "$repo/profiles/slurm" --slurm-no-account --jobs 4 "$target"
echo "SLURM run: $(( $(date +%s) - start )) s wall"
python -m snakemake --snakefile "$repo/Snakefile" --directory "$work/local" --cores 2 \
    "$target" > "$work/local.log" 2>&1

python - "$work" <<'EOF'
import sys
from pathlib import Path

import pandas as pd

work = Path(sys.argv[1])
a = pd.read_parquet(work / "slurm/results/sim/simulation/summary.parquet")
b = pd.read_parquet(work / "local/results/sim/simulation/summary.parquet")
pd.testing.assert_frame_equal(a, b)
print(f"SLURM summary equals the local one: {len(a)} rows, "
      f"{int(a['n_replicates'].max())} replicates, arms {sorted(set(a['arm']))}")
EOF
