import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./api/schema";

export type Schemas = components["schemas"];
export type Principal = Schemas["ApiKeyPrincipal"];
export type Credential = Schemas["Credential"];
export type Role = Schemas["Role"];
export type Permission = Schemas["Permission"];
export type Assignment = Schemas["Assignment"];
export type Member = Schemas["Member"];
export type AuditEvent = Schemas["AuditEvent"];
export type Settings = Schemas["Settings"];
export type CredentialReportRow = Schemas["CredentialReportRow"];
export type CredentialReportPage = Schemas["CredentialReportPage"];
export type SimulateResponse = Schemas["SimulateResponse"];
export type Usage = Schemas["Usage"];
export type RecentRequest = Schemas["RecentRequest"];
export type TopKeys = Schemas["TopKeys"];
export type Me = paths["/iam/me"]["get"]["responses"][200]["content"]["application/json"];
export type Organisation = Me["organisations"][number];

/** A refusal of the API, as its problem+json says it: the stable `code` is what the console keys on. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string | undefined,
    readonly fields: { field: string; message: string }[],
  ) {
    super(`${status} ${code}: ${detail ?? title}`);
  }
}

/** The API's typed client, sending the member's token on every request. */
export function apiClient(baseUrl: string, token: () => string | null) {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request }) {
      const bearer = token();
      if (bearer) request.headers.set("Authorization", `Bearer ${bearer}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

export type Api = ReturnType<typeof apiClient>;

/** The body of a successful answer, or an ApiProblem. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (err) {
    throw new ApiProblem(0, "network_error", "The service could not be reached", String(err), []);
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  const problem = (error ?? {}) as { code?: string; title?: string; detail?: string; errors?: { field: string; message: string }[] };
  throw new ApiProblem(
    response.status,
    problem.code ?? `http_${response.status}`,
    problem.title ?? response.statusText,
    problem.detail,
    problem.errors ?? [],
  );
}

/** The version of a record from its ETag (`"3"`), for If-Match. */
export function versionOf(response: Response): string | null {
  return response.headers.get("ETag");
}
