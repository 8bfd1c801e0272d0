import { DatasetDetailPage } from "../../../../_components/DatasetDetailPage";

export default async function SessionDatasetPage({ params }: { params: Promise<{ id: string; datasetId: string }> }) {
  const { id, datasetId } = await params;
  return <DatasetDetailPage sessionId={id} datasetId={datasetId} />;
}
