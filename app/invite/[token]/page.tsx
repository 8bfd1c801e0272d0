import { AcceptInvite } from "../../_components/AcceptInvite";

/** An invite link: shows the invitation; joining takes a click (AcceptInvite). */
export default async function InvitePage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  let decoded = token;
  try {
    decoded = decodeURIComponent(token);
  } catch {
    // A mangled link: the server answers it as not valid.
  }
  return <AcceptInvite token={decoded} />;
}
