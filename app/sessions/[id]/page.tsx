import { SessionView } from "../../_components/SessionView";

export default async function SessionPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { id } = await params;
  const run = (await searchParams).run;
  return <SessionView sessionId={id} runParam={typeof run === "string" && run ? run : null} />;
}
