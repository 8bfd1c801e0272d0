// Next.js serves the pages from the custom server (server/index.ts), which also carries tRPC and socket.io.
/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // The engine and the server's native modules never enter the page bundles.
  serverExternalPackages: ["@tensorflow/tfjs", "@tensorflow/tfjs-core", "better-sqlite3", "@node-rs/argon2", "webgpu"],
  typescript: { tsconfigPath: "tsconfig.json" },
};

export default nextConfig;
