#!/bin/bash
# Device check (a GPU host, no Docker, no Node): the bundled daemon with its own node on a real GPU
# host. The local offer shows the GPU by dstack's name, a run asking for it comes up in host mode
# and sees it (nvidia-smi, DSTACK_GPUS_NUM), and stops clean. Prepared by bundle.mjs.
set -u
SRC=$PWD/.cache/device
OUT=${OUT:-/tmp/out}; mkdir -p $OUT
D=/tmp/dt; rm -rf $D; mkdir -p $D/bin $D/dist/agent $D/home $D/userhome $D/repo
if command -v node >/dev/null && [ -z "${FORCE_NODE:-}" ]; then ln -s "$(command -v node)" $D/bin/node; else xz -dc $SRC/node.xz > $D/bin/node; fi
chmod +x $D/bin/node
xz -dc $SRC/agent.xz > $D/dist/agent/dstack-agent-linux-x64; chmod +x $D/dist/agent/dstack-agent-linux-x64
cp $SRC/dist/*.cjs $D/dist/
export PATH=$D/bin:$PATH NODE_PATH=$SRC/nm DSTACK_HOME=$D/home HOME=$D/userhome DOCKER_HOST=unix:///nonexistent/docker.sock
GPU=${GPU_SPEC:-H200}
cd $D/repo
echo 'print("hello from the repo")' > main.py
cat > .dstack.yml <<YML
type: dev-environment
name: gpu-check
env:
  - MY_VAR=hello
init:
  - nvidia-smi -L > /tmp/gpu-check.txt 2>&1 || echo no-nvidia-smi > /tmp/gpu-check.txt
  - echo "gpus=\$DSTACK_GPUS_NUM cuda=\${CUDA_VISIBLE_DEVICES:-unset} var=\$MY_VAR" >> /tmp/gpu-check.txt
resources:
  gpu: $GPU
  disk: 10GB..
YML
rm -f /tmp/gpu-check.txt
CLI="node $D/dist/cli.cjs"
$CLI offer > $OUT/offer.txt 2>&1; echo "offer rc=$?" >> $OUT/offer.txt
$CLI offer --gpu A100 > $OUT/offer-a100.txt 2>&1; echo "rc=$?" >> $OUT/offer-a100.txt
timeout 240 $CLI apply -f .dstack.yml -y -d > $OUT/apply.txt 2>&1; echo "apply rc=$?" >> $OUT/apply.txt
$CLI ps --json > $OUT/ps.json 2>&1
for i in $(seq 1 60); do grep -q gpus= /tmp/gpu-check.txt 2>/dev/null && break; sleep 1; done
cp /tmp/gpu-check.txt $OUT/ 2>/dev/null
if command -v ssh >/dev/null; then timeout 60 ssh -F $HOME/.ssh/config -o BatchMode=yes gpu-check 'nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; echo "gpus=$DSTACK_GPUS_NUM"; cat main.py' > $OUT/ssh.txt 2>&1; echo "ssh rc=$?" >> $OUT/ssh.txt; else echo "no ssh client on this host" > $OUT/ssh.txt; fi
$CLI stop gpu-check -y > $OUT/stop.txt 2>&1
$CLI ps -a > $OUT/ps-after.txt 2>&1
cp $DSTACK_HOME/daemon.log $OUT/ 2>/dev/null; cp $DSTACK_HOME/local/agent/agent.log $OUT/ 2>/dev/null
$CLI daemon stop > /dev/null 2>&1
kill $(cat $DSTACK_HOME/local/agent/agent.pid 2>/dev/null) 2>/dev/null
for f in $OUT/*.txt; do echo "== $f"; tail -n 6 "$f"; done
