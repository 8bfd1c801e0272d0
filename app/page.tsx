export default function Home() {
  return (
    <main className="mx-auto flex max-w-2xl flex-col gap-4 p-8">
      <h1 className="text-3xl font-semibold">GAN Studio</h1>
      <p className="text-slate-300">
        The live session server is running: its API is at <code className="text-sky-300">/api/trpc</code>, its live
        stream at <code className="text-sky-300">/api/socket</code>, and its health at{" "}
        <a className="text-sky-300 underline" href="/api/health">
          /api/health
        </a>
        .
      </p>
      <p className="text-slate-400">The session pages (sign in, sessions, the live training view) come with the web app.</p>
    </main>
  );
}
