# syntax=docker/dockerfile:1
#
# One image for every process of event-search; the command selects which one runs:
#   API (default)       node --import ./dist/observability/register.js dist/main/api.js
#   ingester (one run)  node --max-semi-space-size=4 --max-old-space-size=128 \
#                         --import ./dist/observability/register.js dist/main/ingest.js  (ADR 0016)
#   ingest scheduler    node --import ./dist/observability/register.js dist/main/ingest-scheduler.js
#   index bootstrap     node dist/main/bootstrap.js
#   provider simulator  node dist/main/provider-sim.js   (set HOST=0.0.0.0 to be reachable)
#
# node is PID 1 and receives SIGTERM itself (exec-form CMD, no npm, no shell). Every process
# handles SIGTERM; `docker run --init` or Kubernetes' shareProcessNamespace are not needed.
# See docs/adr/0008-packaging.md.

ARG NODE_IMAGE=node:26.12.1-bookworm-slim

# ---- build: every dependency, compile TypeScript to dist/ -------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Then the ingester's compiled modules (Node's compile cache, read by dist/main/ingest.js; ADR
# 0016): each CronJob run starts without compiling them again. Written here, where node_modules
# sits at the same path with the same production files as in the runtime stage (the cache checks
# both).
RUN npm run build && node dist/main/compile-cache.js

# ---- prod-deps: production dependencies only ---------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
WORKDIR /app
# The image's `node` user (uid/gid 1000) runs everything; files stay owned by root, read-only.
# openapi.yaml is served on /openapi.yaml (dist/api/docs-page.js reads ../../openapi.yaml).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/.cache/node-compile-cache ./.cache/node-compile-cache
COPY package.json openapi.yaml ./
# The provider simulator's default samples (dist/sim/service.js reads ../../test/fixtures/).
COPY test/fixtures ./test/fixtures
USER 1000:1000
EXPOSE 3000
# Liveness of the API (the default command). Other commands are not servers on :3000; compose
# and Kubernetes override or disable the check for them.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "./dist/observability/register.js", "dist/main/api.js"]
