# LocalAgent daemon image. Matches the seed's deployment:
#   docker run -d --name localai-agent --restart unless-stopped -p 8080:8080 \
#     -v /path/to/config:/etc/localai localai/agent:latest
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev
# The embedded engine (optional node-llama-cpp) stays, CPU build only: its CUDA and Vulkan builds are 619 MB
# and this slim image has no GPU runtime. A GPU image keeps them (docs/models.md).
RUN rm -rf node_modules/@node-llama-cpp/linux-x64-cuda node_modules/@node-llama-cpp/linux-x64-cuda-ext node_modules/@node-llama-cpp/linux-x64-vulkan

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    LOCALAGENT_CONFIG=/etc/localai \
    LOCALAGENT_DATA_DIR=/var/lib/localagent \
    LOCALAGENT_HOST=0.0.0.0
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY schema ./schema
COPY examples ./examples
# bubblewrap for the shell-step sandbox. Docker's default seccomp profile forbids the user
# namespaces it needs as a non-root user: there steps fall back to unsandboxed (sandbox: preferred)
# unless the container may create them; `localagent doctor` says which.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /etc/localai /var/lib/localagent && chown -R node:node /var/lib/localagent
USER node
VOLUME ["/var/lib/localagent"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/localagent.js"]
CMD ["start"]
