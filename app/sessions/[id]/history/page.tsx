import { RunHistory } from "../../../_components/RunHistory";

export default async function RunHistoryPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <RunHistory sessionId={id} />;
}
