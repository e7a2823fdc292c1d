#!/usr/bin/env bash
# Tests `mmsim sweep --slurm` against a real single-node Slurm: installs slurm-wlm and munge
# when missing (Debian packages), writes a minimal slurm.conf, starts munged, slurmctld and
# slurmd (no systemd here), then runs a sweep as a 4-task job array and checks that the merged
# table equals the same sweep run locally. Needs root. Usage: scripts/slurm-test.sh [MMSIM]
set -euo pipefail
cd "$(dirname "$0")/.."
MMSIM=${1:-.build/debug/mmsim}
[ -x "$MMSIM" ] || { echo "error: $MMSIM not built (swift build)" >&2; exit 1; }
MMSIM=$(realpath "$MMSIM")
[ "$(id -u)" -eq 0 ] || { echo "error: run as root (installs and starts Slurm)" >&2; exit 1; }

if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
host=$(hostname)
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
chown slurm:slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cpus=$(nproc)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 60); do
    sinfo -h -o %T 2>/dev/null | grep -Eq 'idle|mixed|alloc' && break
    sleep 1
done
sinfo -h -o '%P %T %D' || { echo "error: Slurm did not come up" >&2; exit 1; }

work=$(mktemp -d /tmp/mmsim-slurm.XXXXXX)
"$MMSIM" synth random --span 4M --length 20000 --seed 1 -o "$work/r.mmt" 2>/dev/null
"$MMSIM" synth zipf --span 4M --length 20000 --writes 0.2 --seed 2 -o "$work/z.mmt" 2>/dev/null
cat > "$work/spec.json" <<SPEC
{"traces": ["r.mmt", "z.mmt"], "grid": {"stlb": ["16:4", "64:4", "1536:12"], "pcid": [false, true]}, "fixed": {"ram": "256M"}}
SPEC
"$MMSIM" sweep "$work/spec.json" --slurm 4 --jobs 1 -o "$work/slurm.csv"
"$MMSIM" sweep "$work/spec.json" -o "$work/local.csv"
if cmp -s "$work/slurm.csv" "$work/local.csv"; then
    echo "slurm-test: OK: $(($(wc -l < "$work/slurm.csv") - 1)) runs through a 4-task job array equal the local sweep"
    rm -rf "$work"
else
    echo "slurm-test: FAILED: $work/slurm.csv differs from $work/local.csv" >&2
    exit 1
fi
