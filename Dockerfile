# Ferry worker image: one "replication instance" (DESIGN.md, Scale) with pg_dump/pg_restore 15 on PATH.
# Build: docker build -t ferry .   Run: mount a ferry.yaml at /etc/ferry/ferry.yaml (see docker-compose.yml).
FROM node:20-bookworm-slim

# pg_dump/pg_restore for the proof-of-concept and schema phases. Version 15 from Debian bookworm: it dumps
# any source from 9.2 up and restores into 15, the newest target the compose stack runs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so editing the source does not re-download them.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
RUN npm run build \
 && npm prune --omit=dev \
 && npm cache clean --force

# workDir of deploy/ferry.compose.yaml; owned by the unprivileged user so a fresh named volume is writable.
RUN mkdir -p /var/lib/ferry /etc/ferry && chown node:node /var/lib/ferry

ENV NODE_ENV=production
USER node

ENTRYPOINT ["node", "bin/ferry.js", "worker", "--config", "/etc/ferry/ferry.yaml"]
