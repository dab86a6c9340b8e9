# The worker Lambda function (BeamLambdaRunner builds it at deploy time; the build context is the
# repository): a Lambda image on a non-AWS base. Debian bookworm with Node.js 22, the worker
# handler bundled by esbuild, the Node.js runtime interface client (aws-lambda-ric) as entry
# point, and Python 3.11 (Debian's) with the locked harness environment (requirements/worker.lock:
# apache-beam with boto3, pandas, pyarrow, scikit-learn, ...) for the SDK harness it starts and
# keeps warm.
#
# NODE_IMAGE names the base: Node.js 22 on Debian bookworm. Docker Hub's by default; where public
# images cannot be pulled, scripts/docker.sh makes one locally and passes it.
ARG NODE_IMAGE=node:22-bookworm-slim
# The runtime interface client the emulated environments run (scripts/setup-lambda.sh).
ARG RIC_VERSION=3.3.0

FROM ${NODE_IMAGE} AS bundle
WORKDIR /src
COPY package.json package-lock.json ./
# npm ci applies patches/ (the Beam protos' readers) in its postinstall step.
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN bash scripts/bundle-worker.sh /out node22

# aws-lambda-ric builds its native client (aws-lambda-cpp and curl, bundled in the package) with
# autotools, cmake and node-gyp; node's headers come with the base, so nothing is downloaded
# but npm packages.
FROM ${NODE_IMAGE} AS ric
ARG RIC_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends autoconf automake libtool cmake make g++ python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ric
RUN npm init -y >/dev/null \
 && npm install --no-audit --no-fund --nodedir=/usr/local "aws-lambda-ric@${RIC_VERSION}"
# What it runs with: bin/, dist/ (rapid-client.node included) and package.json; its deps/ are the
# native build's sources and objects (about 150 MB), and node-gyp is a build tool.
RUN rm -rf node_modules/aws-lambda-ric/deps node_modules/aws-lambda-ric/build

FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# Exactly the lock, as in the project's .venv that the tests run (the SDK version must match the
# submitter's); test/cdk/python-lock.test.ts checks that nothing else is pip-installed.
COPY requirements/worker.lock /opt/beam/requirements/worker.lock
RUN python3 -m venv /opt/beam \
 && /opt/beam/bin/pip install --no-cache-dir -r /opt/beam/requirements/worker.lock
COPY --from=ric /opt/ric/node_modules/aws-lambda-ric /opt/ric/node_modules/aws-lambda-ric
# Where Lambda's own base images keep the function.
ENV LAMBDA_TASK_ROOT=/var/task \
    BEAM_LAMBDA_PYTHON=/opt/beam/bin/python \
    BEAM_LAMBDA_GROUPING_WASM=/var/task/grouping.wasm
COPY --from=bundle /out/ /var/task/
WORKDIR /var/task
ENTRYPOINT ["node", "/opt/ric/node_modules/aws-lambda-ric/bin/index.mjs"]
CMD ["index.handler"]
