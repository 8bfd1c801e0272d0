import { NewRunForm } from "../../../../_components/NewRunForm";

export default async function NewRunPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <NewRunForm sessionId={id} />;
}
