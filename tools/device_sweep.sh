#!/usr/bin/env bash
# One prepared run on a lent GPU machine (the workplace's device tool), in this order so timings
# are clean: the GPU tests and benchmarks (`pytest -m gpu --benchmark`), the slow tier on the GPU
# timed per test, then the seed sweeps behind the catalogue's IMDB LSTM/RNN spreads
# (`islp-ch10 sweep ... --accelerator gpu`, artifacts named after the GPU).
# Expects: .gpu_data/ (mnist/, imdb/ copied from ../shared/data) and .whl/ (ISLP, torchinfo,
# pytest-socket wheels).  Results land in $OUT: bench_gpu.json, slow_gpu.log, spreads/*.json.
set -u
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
export ISLP_CH10_DATA=$PWD/.gpu_data ISLP_CH10_CACHE=/tmp/islp-cache
nvidia-smi -L
python3 -c "import torch, pytorch_lightning as pl; print('torch', torch.__version__, 'lightning', pl.__version__, torch.cuda.get_device_name(0))"
t0=$SECONDS
timeout 300 python3 -m pytest -m gpu --benchmark --benchmark-json "$OUT/bench_gpu.json" -q -p no:cacheprovider \
    --benchmark-columns=min,median,mean,rounds --benchmark-sort=name 2>&1 | tail -60
echo "gpu tests + benchmarks: $((SECONDS - t0)) s"
t1=$SECONDS
timeout ${SLOW_S:-600} python3 -m pytest -m "slow and gpu" -q -p no:cacheprovider --durations=0 2>&1 | tee "$OUT/slow_gpu.log" | tail -40
echo "slow tier on the GPU: $((SECONDS - t1)) s"
for e in ${GPU_EXPS:-imdb-lstm imdb-rnn}; do
    timeout ${SWEEP_S:-600} python3 -m islp_ch10.cli sweep "$e" --seeds 0,1,2 --accelerator gpu --out "$OUT/spreads"
done
echo "total: $((SECONDS - t0)) s"
