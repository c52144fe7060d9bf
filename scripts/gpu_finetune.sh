#!/usr/bin/env bash
# Fine-tune the shipped built-in family on one CUDA GPU, starting from its weights in assets/builtin.
#
#   scripts/gpu_finetune.sh MINUTES OUT [RUNS]
#
# Renders 8,000 training scenes, caches their latents, then trains side by side on the one GPU, each for MINUTES with
# the learning rate cooled down to 0 (--cooldown): the text UNet (text encoder frozen, it is shared with inpainting),
# the inpainting UNet, the semantic UNet and the decoder (decoder-only, so the latent space stays the same).
# Writes fp16 weights (text.safetensors, inpaint.safetensors, semantic.safetensors, vae.safetensors) and logs.tar.gz
# into OUT; scripts/gpu_import.py puts them back into a runs folder that `python -m ldm_train.export` reads.
# TRAIN picks the runs (default "text inpaint semantic decoder"); batch sizes: TEXT_BS, INPAINT_BS, SEMANTIC_BS, DECODER_BS. Wheels in .whl/ are installed first
# (for a machine without diffusers).
set -u
MINUTES=${1:?minutes}
OUT=${2:?output folder}
RUNS=${3:-runs/gpu}
SCENES=${SCENES:-8000}
mkdir -p "$OUT" "$RUNS"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
start=$(date +%s)
python3 -c "from pathlib import Path; from ldm_train.data.dataset import load_scenes; load_scenes(Path('cache'), $SCENES, workers=16)"
python3 -m ldm_train.latents --vae assets/builtin/vae --num-scenes "$SCENES" --photos
echo "data ready in $(($(date +%s) - start)) s"

TRAIN=" ${TRAIN:-text inpaint semantic decoder} "
wants() { [[ $TRAIN == *" $1 "* ]]; }
common=(--vae assets/builtin/vae --num-scenes "$SCENES" --max-minutes "$MINUTES" --cooldown --threads 3)
wants text && python3 -m ldm_train.unet --task text --out "$RUNS/unet_text" --init-from assets/builtin \
  --freeze-text-encoder --batch-size "${TEXT_BS:-128}" "${common[@]}" >"$RUNS/text.log" 2>&1 &
wants inpaint && python3 -m ldm_train.unet --task inpaint --out "$RUNS/unet_inpaint" --init-from assets/builtin \
  --init-unet assets/builtin/unet_inpaint --batch-size "${INPAINT_BS:-128}" "${common[@]}" >"$RUNS/inpaint.log" 2>&1 &
wants semantic && python3 -m ldm_train.unet --task semantic --out "$RUNS/unet_semantic" --init-unet assets/builtin/unet_semantic \
  --latent-crop 16 --batch-size "${SEMANTIC_BS:-256}" "${common[@]}" >"$RUNS/semantic.log" 2>&1 &
wants decoder && python3 -m ldm_train.autoencoder --decoder-only assets/builtin/vae --out "$RUNS/decoder" \
  --num-scenes "$SCENES" --batch-size "${DECODER_BS:-64}" --max-minutes "$MINUTES" --cooldown --threads 3 \
  >"$RUNS/decoder.log" 2>&1 &
wait
echo "trained in $(($(date +%s) - start)) s"
tail -n 3 "$RUNS"/*.log

python3 - "$RUNS" "$OUT" <<'EOF'
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

runs, out = Path(sys.argv[1]), Path(sys.argv[2])
for name, folder in [("text", "unet_text/unet"), ("inpaint", "unet_inpaint/unet"),
                     ("semantic", "unet_semantic/unet"), ("vae", "decoder/vae")]:
    files = sorted((runs / folder).glob("*.safetensors"))
    if files:
        save_file({k: v.half().contiguous() for k, v in load_file(files[0]).items()}, out / f"{name}.safetensors")
        print("exported", name)
EOF
# paths inside the archive are relative to RUNS
tar czf "$OUT/logs.tar.gz" -C "$RUNS" $(cd "$RUNS" && ls *.log */config.json */loss.png */{unet,vae}/config.json 2>/dev/null)
ls -la "$OUT"
