#!/usr/bin/env bash
# One prepared run on a lent GPU machine (the workplace's device tool): GPU tests and benchmarks
# first (alone, so timings are clean), then the seed sweeps that back the catalogue's thresholds:
#   book tier on the GPU (the lab's epochs) for the IMDB LSTM and RNN, seeds 0-2;
#   CI tier on that machine's 16 CPUs (one thread each) for the experiments too slow to sweep on 2 cores;
# one process per (experiment, seed, tier), all in parallel.
# Expects: .gpu_data/ (mnist/, imdb/ copied from ../shared/data) and .whl/ (ISLP, torchinfo wheels).
set -u
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
export ISLP_CH10_DATA=$PWD/.gpu_data ISLP_CH10_CACHE=/tmp/islp-cache
nvidia-smi -L; python3 -c "import torch, pytorch_lightning as pl; print('torch', torch.__version__, 'lightning', pl.__version__, torch.cuda.get_device_name(0))"
t0=$SECONDS
timeout 150 python3 -m pytest tests/test_gpu.py -m gpu -q -p no:cacheprovider 2>&1 | tail -5
timeout 200 python3 -m pytest benchmarks -m gpu --benchmark --benchmark-json $OUT/bench_gpu.json -q -p no:cacheprovider \
    --benchmark-columns=min,median,mean,rounds --benchmark-sort=name 2>&1 | tail -60
echo "gpu tests + benchmarks: $((SECONDS - t0)) s"
python3 -c "from islp_ch10.data import load_imdb; load_imdb()"   # build the IMDB cache once
GPU_EXPS=${GPU_EXPS:-imdb-lstm imdb-rnn}
CPU_EXPS=${CPU_EXPS:-imdb-lstm imdb-rnn mnist-regularise mnist-mlp}
for s in 0 1 2; do   # one process per (experiment, seed, tier)
    for e in $GPU_EXPS; do
        timeout ${SWEEP_S:-360} python3 -m islp_ch10.cli reproduce --only $e --tier book --seeds $s \
            --accelerator gpu --out /tmp/sweep/gpu_book_${e}_s$s > /tmp/sweep_gpu_${e}_$s.log 2>&1 &
    done
    for e in $CPU_EXPS; do
        OMP_NUM_THREADS=1 ISLP_CH10_THREADS=1 timeout ${SWEEP_S:-360} python3 -m islp_ch10.cli reproduce --only $e \
            --tier ci --seeds $s --out /tmp/sweep/cpu_ci_${e}_s$s > /tmp/sweep_cpu_${e}_$s.log 2>&1 &
    done
done
wait
grep -h -E "^\[|: (accuracy|r2|error|mae) =|skipped|wrote" /tmp/sweep_*.log | head -150
mkdir -p /tmp/sweep && cp /tmp/sweep_*.log /tmp/sweep/
tar -czf $OUT/sweeps.tar.gz --exclude='*.png' --exclude='logs' -C /tmp sweep
echo "total: $((SECONDS - t0)) s"
