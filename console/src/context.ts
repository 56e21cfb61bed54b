import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Api, Me, Organisation } from "./api";

export interface Session {
  api: Api;
  me: Me;
  /** The organisation the console works in. */
  org: Organisation;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("no session");
  return session;
}

/** `/console/<path>`. */
export function href(path: string): string {
  return `${import.meta.env.BASE_URL}${path.replace(/^\//, "")}`;
}
