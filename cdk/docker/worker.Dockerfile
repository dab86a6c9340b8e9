# The worker Lambda function (BeamLambdaRunner builds it at deploy time; the build context is the
# repository): the worker handler bundled by esbuild, on the AWS Lambda Node.js base image, with
# Python 3.11 and the locked harness environment (requirements/worker.lock: apache-beam with boto3,
# pandas, pyarrow, scikit-learn, ...) for the SDK harness it starts and keeps warm.
FROM node:22-bookworm-slim AS bundle
WORKDIR /src
COPY package.json package-lock.json ./
# npm ci applies patches/ (the Beam protos' readers) in its postinstall step.
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN bash scripts/bundle-worker.sh /out node22

FROM public.ecr.aws/lambda/nodejs:22
RUN dnf install -y python3.11 python3.11-pip && dnf clean all
# Exactly the lock, as in the project's .venv that the tests run (the SDK version must match the
# submitter's); test/cdk/python-lock.test.ts checks that nothing else is pip-installed.
COPY requirements/worker.lock /opt/beam/requirements/worker.lock
RUN python3.11 -m venv /opt/beam \
 && /opt/beam/bin/pip install --no-cache-dir -r /opt/beam/requirements/worker.lock
ENV BEAM_LAMBDA_PYTHON=/opt/beam/bin/python \
    BEAM_LAMBDA_GROUPING_WASM=/var/task/grouping.wasm
COPY --from=bundle /out/ ${LAMBDA_TASK_ROOT}/
CMD ["index.handler"]
