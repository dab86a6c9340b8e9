# The job server, and Fargate executors (BeamLambdaRunner builds it at deploy time; the build
# context is the repository). Python 3.11 (Debian bookworm's) with the locked harness environment
# (requirements/worker.lock, the same as the worker function's) is there for the planner's SDK
# version check and for executors, which run SDK harnesses.
#
# NODE_IMAGE names the base: Node.js 22 on Debian bookworm. Docker Hub's by default; where public
# images cannot be pulled, scripts/docker.sh makes one locally and passes it.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS wasm
WORKDIR /src
COPY package.json package-lock.json ./
# npm ci applies patches/ (the Beam protos' readers) in its postinstall step.
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY scripts ./scripts
RUN bash scripts/build-wasm.sh

FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci applies patches/ (the Beam protos' readers) in its postinstall step.
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund
# Exactly the lock; test/cdk/python-lock.test.ts checks that nothing else is pip-installed.
COPY requirements/worker.lock ./requirements/worker.lock
RUN python3 -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements/worker.lock
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
# The shuffle's WebAssembly kernel, where the runner looks for it.
COPY --from=wasm /src/build/wasm/grouping.wasm ./build/wasm/grouping.wasm
ENV BEAM_LAMBDA_PYTHON=/app/.venv/bin/python
EXPOSE 8099 8098
ENTRYPOINT ["node", "bin/beam-lambda.js"]
CMD ["job-server", "--host", "0.0.0.0", "--port", "8099"]
