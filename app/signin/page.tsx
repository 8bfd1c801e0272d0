import { AuthForms } from "../_components/AuthForms";
import { safeNext } from "../_lib/redirect";

/** Only same-site paths are followed after signing in (app/_lib/redirect.ts). */
export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const next = safeNext((await searchParams).next);
  return <AuthForms next={next} />;
}
