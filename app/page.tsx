import { SessionsHome } from "./_components/SessionsHome";

export default function Home() {
  return <SessionsHome />;
}
