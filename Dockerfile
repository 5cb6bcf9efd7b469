# syntax=docker/dockerfile:1
# One image for every Pulse service; the command picks which one runs:
#   docker build -t pulse:local .
#   docker run -p 8000:8000 pulse:local                                   # all-in-one (npm start)
#   docker run pulse:local node services/ingest/dist/main.js              # one ingest node
# See docs/DEPLOY.md. test/deploy/dockerfile.test.ts checks the rules stated here.

ARG NODE_IMAGE=node:20-alpine

# --- manifests: only the package.json files and the lock, so the dependency
# layers below are rebuilt when a manifest changes, not on every source edit.
# Every workspace that ships lives under packages/ or services/ (test/deploy checks it).
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY packages/ packages/
COPY services/ services/
RUN mkdir -p /out \
 && for f in packages/*/package.json services/*/package.json; do \
      mkdir -p "/out/$(dirname "$f")" && cp "$f" "/out/$f"; \
    done
COPY package.json package-lock.json /out/
# The tests' workspace: only its manifest (it has no dependencies), so npm ci finds every workspace.
COPY test/support/package.json /out/test/support/package.json

# --- build: every dependency (tsc is a dev dependency), then `tsc -b`.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY --from=manifests /out/ ./
# --ignore-scripts: `prepare` would run tsc before the sources are here; no
# dependency needs an install script to compile Pulse.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages/ packages/
COPY services/ services/
# The workspaces' projects (and what they reference), not the root solution,
# which also builds bench/ and tests the image has no use for. What ships of
# each workspace: dist/ (compiled), public/ (static files served as they are,
# e.g. the dashboard's page) and bin/ (command shims, e.g. the `pulse` CLI);
# test/deploy fails when a workspace grows another folder, so nothing is
# silently left out.
RUN npx tsc -b packages/* services/* \
 && mkdir -p /out \
 && for d in packages/* services/*; do \
      for part in dist public bin; do \
        if [ -d "$d/$part" ]; then mkdir -p "/out/$d" && cp -R "$d/$part" "/out/$d/"; fi; \
      done; \
    done \
 && find /out \( -name '*.d.ts' -o -name '*.map' -o -name '.tsbuildinfo' -o -name '*.tsbuildinfo' \) -delete

# --- runtime: production dependencies and built output only.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /out/ ./
COPY infra/docker/healthcheck.mjs ./healthcheck.mjs
# Numeric uid:gid (the image's `node` user), so Kubernetes' runAsNonRoot can
# verify it. Everything under /app stays root-owned: the process cannot rewrite
# its own code, and a read-only root filesystem works (Pulse writes nothing).
USER 1000:1000
EXPOSE 8000 8080 8090 9100 9190
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["node", "healthcheck.mjs", "/readyz"]
# Exec form: node is PID 1 and receives SIGTERM itself; every service drains
# and exits 0 on it within PULSE_SHUTDOWN_TIMEOUT_MS (default 10 s).
CMD ["node", "services/standalone/dist/main.js"]
