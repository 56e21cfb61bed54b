import { useState } from "preact/hooks";
import type { Role, Schemas } from "../api";
import { ErrorNotice, FormActions } from "../ui/kit";

type PermissionInput = Schemas["PermissionInput"];
interface Row {
  action: string;
  resource: string;
  sourceIp: string;
}

export interface RoleDraft {
  name: string;
  description: string | null;
  principalTypes: ("ApiKey" | "User")[];
  permissions: PermissionInput[];
}

function rowsOf(role: Role | null): Row[] {
  if (!role) return [{ action: "", resource: "*", sourceIp: "" }];
  return role.permissions.map((p) => ({ action: p.action, resource: p.resource, sourceIp: (p.condition?.sourceIp ?? []).join(", ") }));
}

/** The fields of a custom role: name, description, principal types and permissions (action, resource, source IP condition). */
export function RoleForm(props: { role: Role | null; submitLabel: string; error: unknown; onSubmit: (draft: RoleDraft) => void; onCancel: () => void }) {
  const [rows, setRows] = useState<Row[]>(() => rowsOf(props.role));
  const set = (i: number, field: keyof Row, value: string) => setRows(rows.map((r, j) => (j === i ? { ...r, [field]: value } : r)));
  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const description = String(form.get("description") ?? "").trim();
    props.onSubmit({
      name: String(form.get("name") ?? ""),
      description: description || null,
      principalTypes: form.getAll("principalTypes").map(String) as ("ApiKey" | "User")[],
      permissions: rows.map((r) => {
        const ranges = r.sourceIp
          .split(/[\s,]+/)
          .map((s) => s.trim())
          .filter(Boolean);
        return { action: r.action.trim(), resource: r.resource.trim(), ...(ranges.length ? { condition: { sourceIp: ranges } } : {}) };
      }),
    });
  };
  const types = props.role?.principalTypes ?? ["ApiKey"];
  return (
    <form onSubmit={submit}>
      <label>
        Role name
        <input name="name" required maxLength={64} defaultValue={props.role?.name ?? ""} autoComplete="off" />
      </label>
      <label>
        Description <span class="hint">(optional)</span>
        <textarea name="description" maxLength={1024} rows={2} defaultValue={props.role?.description ?? ""} />
      </label>
      <fieldset>
        <legend>Principal types</legend>
        <label class="check">
          <input type="checkbox" name="principalTypes" value="ApiKey" defaultChecked={types.includes("ApiKey")} /> ApiKey
        </label>
        <label class="check">
          <input type="checkbox" name="principalTypes" value="User" defaultChecked={types.includes("User")} /> User
        </label>
      </fieldset>
      <fieldset>
        <legend>Permissions</legend>
        {rows.map((r, i) => (
          <div class="permission-row" key={i}>
            <label>
              Action
              <input value={r.action} required placeholder="iot:devices:read" onInput={(e) => set(i, "action", (e.target as HTMLInputElement).value)} />
            </label>
            <label>
              Resource
              <input value={r.resource} required placeholder="*" onInput={(e) => set(i, "resource", (e.target as HTMLInputElement).value)} />
            </label>
            <label>
              Source IP condition <span class="hint">(optional CIDRs)</span>
              <input value={r.sourceIp} placeholder="10.0.0.0/8" onInput={(e) => set(i, "sourceIp", (e.target as HTMLInputElement).value)} />
            </label>
            <button type="button" onClick={() => setRows(rows.filter((_, j) => j !== i))} disabled={rows.length === 1} aria-label={`Remove permission ${i + 1}`}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setRows([...rows, { action: "", resource: "*", sourceIp: "" }])}>
          Add permission
        </button>
      </fieldset>
      <ErrorNotice error={props.error} />
      <FormActions submit={props.submitLabel} onCancel={props.onCancel} />
    </form>
  );
}

/** A permission as one line: action on resource, and its condition. */
export function conditionText(p: Schemas["Permission"]): string {
  const c = p.condition;
  if (!c) return "—";
  const parts: string[] = [];
  if (c.sourceIp?.length) parts.push(`source IP in ${c.sourceIp.join(", ")}`);
  if (c.notBefore) parts.push(`not before ${c.notBefore}`);
  if (c.notAfter) parts.push(`not after ${c.notAfter}`);
  return parts.join("; ");
}
