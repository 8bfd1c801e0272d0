import { DatasetsPage } from "../../../_components/DatasetsPage";

export default async function SessionDatasetsPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <DatasetsPage sessionId={id} />;
}
