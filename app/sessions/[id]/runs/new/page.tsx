import { NewRunForm } from "../../../../_components/NewRunForm";

export default async function NewRunPage({
  params,
  searchParams,
}: {
  params: Promise<{ id: string }>;
  searchParams: Promise<{ dataset?: string | string[] }>;
}) {
  const { id } = await params;
  const { dataset } = await searchParams;
  return <NewRunForm sessionId={id} initialDataset={typeof dataset === "string" ? dataset : null} />;
}
