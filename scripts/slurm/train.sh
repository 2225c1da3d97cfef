#!/usr/bin/env bash
# sbatch scripts/slurm/train.sh configs/avqa_llama3.yaml [key=value ...]
# Passes resume=auto: a requeued or follow-up job continues the run in output_dir (a fresh
# output_dir starts a new run) instead of being refused for finding its checkpoints there.
# One torchrun launcher per node; torchrun starts one process per GPU and sets RANK/WORLD_SIZE,
# which moka-train's DeepSpeed initialisation reads.
#SBATCH --job-name=moka-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=32
#SBATCH --output=slurm-%j.out
set -euo pipefail
CONFIG=${1:?usage: sbatch scripts/slurm/train.sh CONFIG [overrides]}
shift
MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_ADDR MASTER_PORT=${MASTER_PORT:-29500}
srun torchrun --nnodes "$SLURM_NNODES" --nproc-per-node "${SLURM_GPUS_PER_NODE:-8}" \
  --rdzv-backend c10d --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT" --rdzv-id "$SLURM_JOB_ID" \
  scripts/train.py --config "$CONFIG" resume=auto "$@"
