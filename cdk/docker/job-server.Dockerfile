# The job server, and Fargate executors (BeamLambdaRunner builds it at deploy time; the build
# context is the repository). Python with the pinned apache-beam is there for the planner's SDK
# version check and for executors, which run SDK harnesses.
FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY requirements.txt ./
RUN python3 -m venv .venv && .venv/bin/pip install --no-cache-dir "$(grep '^apache-beam==' requirements.txt)"
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY scripts ./scripts
# The shuffle's WebAssembly kernel (needs the dev dependency assemblyscript only to build).
RUN npm install --no-save --no-audit --no-fund assemblyscript@0.28.20 && bash scripts/build-wasm.sh
ENV BEAM_LAMBDA_PYTHON=/app/.venv/bin/python
EXPOSE 8099
ENTRYPOINT ["node", "bin/beam-lambda.js"]
CMD ["job-server", "--host", "0.0.0.0", "--port", "8099"]
