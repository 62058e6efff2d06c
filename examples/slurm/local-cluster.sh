#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for trying the sweep scripts and for the test
# tests/slurm.rs: Debian's slurm-wlm and munge (apt-get install slurm-wlm munge).
#
#   examples/slurm/local-cluster.sh start STATE_DIR   # writes STATE_DIR/slurm.conf, starts
#                                                     # munged (if not running), slurmctld, slurmd
#   export SLURM_CONF=STATE_DIR/slurm.conf            # then sbatch, squeue, sinfo use it
#   examples/slurm/local-cluster.sh stop STATE_DIR    # cancels its jobs, stops what start started
#
# The daemons run as root (through sudo when the caller is not root); the ports are 16817
# (slurmctld) and 16818 (slurmd), or SLURMCTLD_PORT and SLURMD_PORT.
set -euo pipefail
action=${1:?usage: local-cluster.sh start|stop STATE_DIR}
state=$(realpath -m "${2:?usage: local-cluster.sh start|stop STATE_DIR}")
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

start() {
  mkdir -p "$state/save" "$state/spool" "$state/log"
  local host cpus
  host=$(hostname -s)
  cpus=$(nproc)
  cat > "$state/slurm.conf" <<CONF
ClusterName=sgd-escape-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/save
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    $SUDO mkdir -p /run/munge
    $SUDO chown munge:munge /run/munge 2>/dev/null || true
    $SUDO munged --force
    touch "$state/munged-started"
    for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  $SUDO slurmctld -f "$state/slurm.conf"
  $SUDO slurmd -f "$state/slurm.conf"
  export SLURM_CONF="$state/slurm.conf"
  for _ in $(seq 100); do
    if [ "$(sinfo -h -o %T 2>/dev/null)" = "idle" ]; then
      echo "single-node cluster up: export SLURM_CONF=$state/slurm.conf"
      return 0
    fi
    sleep 0.2
  done
  echo "the node did not become idle within 20 s; logs in $state/log" >&2
  sinfo >&2 || true
  tail -n 20 "$state"/log/*.log >&2 || true
  return 1
}

stop_pid() {
  local file=$1
  if [ -f "$file" ]; then
    local pid
    pid=$(cat "$file")
    $SUDO kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do $SUDO kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    $SUDO kill -9 "$pid" 2>/dev/null || true
  fi
}

stop() {
  if [ -f "$state/slurm.conf" ]; then
    SLURM_CONF="$state/slurm.conf" scancel --full --user="$(id -un)" 2>/dev/null || true
  fi
  stop_pid "$state/slurmd.pid"
  stop_pid "$state/slurmctld.pid"
  if [ -f "$state/munged-started" ]; then
    stop_pid /run/munge/munged.pid
    rm -f "$state/munged-started"
  fi
}

case $action in
  start) start ;;
  stop) stop ;;
  *) echo "usage: local-cluster.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
