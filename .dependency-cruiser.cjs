/**
 * The layers, as checks (npm test and CI run `npm run lint:imports`):
 * - the engine (lib/gan) knows nothing of the server, the web app, Next, socket.io, Prisma or Redis;
 * - the typed messages (lib/protocol) depend on neither side;
 * - the server never reaches TensorFlow.js: tensors run only in the child processes whose entry points are named
 *   below (trainer, RuntimeGenerator, data set importer);
 * - the web app uses server code only as types (the browser talks to the server through tRPC and the socket contract)
 *   and never imports the engine.
 * @type {import('dependency-cruiser').IConfiguration}
 */
const CHILD_ENTRIES = "^server/(trainer/child|trainer/generator-child|datasets/import-child)[.]ts$";

module.exports = {
  forbidden: [
    {
      name: "engine-is-independent",
      comment: "lib/gan is the engine: it must not import the server, the web app, Next, socket.io, Prisma or Redis",
      severity: "error",
      from: { path: "^lib/gan/" },
      to: {
        path: [
          "^server/",
          "^app/",
          "(^|/)node_modules/(next|react|react-dom|socket[.]io|socket[.]io-client|@prisma|prisma|@trpc|ioredis|redis|bullmq|@socket[.]io|pg)/",
        ],
      },
    },
    {
      name: "protocol-is-independent",
      comment: "lib/protocol holds the typed messages both sides share: it imports neither side",
      severity: "error",
      from: { path: "^lib/protocol/" },
      to: { path: ["^server/", "^app/"] },
    },
    {
      name: "server-runs-no-tensors",
      comment:
        "the server runs tensors only in child processes: nothing it loads may reach @tensorflow (use the engine's TensorFlow-free modules: config, spec, limits, data store)",
      severity: "error",
      from: { path: "^server/", pathNot: CHILD_ENTRIES },
      to: { path: "(^|/)node_modules/@tensorflow/", reachable: true },
    },
    {
      name: "app-uses-server-types-only",
      comment: "the web app talks to the server through tRPC and the socket contract: server code only as types (import type)",
      severity: "error",
      from: { path: "^app/" },
      to: { path: "^server/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "app-does-not-run-the-engine",
      comment: "the browser does not import the engine (lib/gan); shared wire types live in lib/protocol",
      severity: "error",
      from: { path: "^app/" },
      // The vocabulary (closed sets and limits, import-free) is the one engine file the pages may use.
      to: { path: "^lib/gan/", pathNot: "^lib/gan/vocabulary[.]ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "page-generator-is-browser-safe",
      comment:
        "lib/gan/page-generator.ts is meant to run in a page's Web Worker: nothing it loads may need Node (node: modules) or the training code's native kernels",
      severity: "error",
      from: { path: "^lib/gan/page-generator[.]ts$" },
      to: {
        path: [
          "^(node:)?(fs|path|os|child_process|crypto|worker_threads|net|http|https|stream|zlib|url|module|util)(/|$)",
          "^lib/gan/(model|trainer|backend|backends/|checkpoint[.]ts|data/)",
        ],
        reachable: true,
      },
    },
    {
      name: "vocabulary-imports-nothing",
      comment: "lib/gan/vocabulary.ts names the domain's closed sets for every layer: it imports nothing",
      severity: "error",
      from: { path: "^lib/gan/vocabulary[.]ts$" },
      to: {},
    },
    {
      name: "not-to-unresolvable",
      comment: "an import that does not resolve to a file",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: ["^server/db/generated/", "^server/db/generated-pg/", "^[.]next/"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".mjs", ".cjs", ".json"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
