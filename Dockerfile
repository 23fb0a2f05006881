# One image for every Clickpulse service; docker-compose.yml picks the subcommand.

# What npm builds, each from its lock file: the referrer data set ingest loads at start-up and the beacon
# bundle ingest serves. Both are git-ignored (and .dockerignore'd), so the image makes its own.
FROM node:20-slim AS node-assets
WORKDIR /src
COPY ingest/referrer_data/package.json ingest/referrer_data/package-lock.json ingest/referrer_data/
RUN cd ingest/referrer_data && npm ci --no-audit --no-fund
COPY tracker_js/package.json tracker_js/package-lock.json tracker_js/
RUN cd tracker_js && npm ci --no-audit --no-fund
COPY tracker_js/scripts tracker_js/scripts
COPY tracker_js/src tracker_js/src
RUN cd tracker_js && npm run -s build

FROM python:3.11-slim
WORKDIR /app
# The dependencies in a layer of their own, rebuilt only when the lock changes; every file hash-checked.
# The runtime lock: requirements.lock's versions without the test and lint tools.
COPY requirements-runtime.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements-runtime.lock
COPY . .
COPY --from=node-assets /src/ingest/referrer_data/node_modules ingest/referrer_data/node_modules
COPY --from=node-assets /src/tracker_js/dist tracker_js/dist
# Editable, because the settings find the referrer data and the beacon relative to the source tree.
RUN pip install --no-cache-dir --no-deps -e .
# Not root. /data exists and is ours, so a new named volume mounted there starts out ours too.
RUN useradd --system --uid 10001 --no-create-home clickpulse && mkdir /data && chown clickpulse /data
USER clickpulse
ENTRYPOINT ["clickpulse"]
