import { useEffect, useRef, useState } from "preact/hooks";
import { type RecentRequest, type Usage, ok } from "../api";
import { useSession } from "../context";
import { fixFor } from "../fixes";
import { ErrorNotice, Table, formatTime, usePaged } from "../ui/kit";

type Granularity = "hour" | "day";

/** Each outcome's name in the seed's words, and a fill readable without colour (a pattern) as well as with it. */
const OUTCOMES: Record<string, { label: string; colour: string; pattern: "solid" | "diagonal" | "dots" | "cross" | "vertical" | "horizontal" }> = {
  allowed: { label: "Allowed", colour: "#1a7f37", pattern: "solid" },
  rate_limited: { label: "Rate limited", colour: "#9a6700", pattern: "diagonal" },
  ip_not_allowed: { label: "IP not allowed", colour: "#8250df", pattern: "dots" },
  credential_revoked: { label: "Credential revoked", colour: "#cf222e", pattern: "cross" },
  credential_expired: { label: "Credential expired", colour: "#bc4c00", pattern: "vertical" },
  permission_denied: { label: "Permission denied", colour: "#0969da", pattern: "horizontal" },
  no_role_assignment: { label: "No role assignment", colour: "#57606a", pattern: "cross" },
  principal_suspended: { label: "Principal suspended", colour: "#6e7781", pattern: "vertical" },
  direct_api_key_auth_disabled: { label: "Direct API-key auth disabled", colour: "#953800", pattern: "dots" },
};
const OTHER = { label: "", colour: "#57606a", pattern: "cross" as const };

function outcome(code: string) {
  return OUTCOMES[code] ?? { ...OTHER, label: code };
}

/** A canvas fill: the outcome's colour with its pattern drawn over it in white. */
function fill(code: string): CanvasPattern | string {
  const { colour, pattern } = outcome(code);
  if (pattern === "solid") return colour;
  const tile = document.createElement("canvas");
  tile.width = tile.height = 8;
  const g = tile.getContext("2d");
  if (!g) return colour;
  g.fillStyle = colour;
  g.fillRect(0, 0, 8, 8);
  g.strokeStyle = g.fillStyle = "#ffffff";
  g.lineWidth = 1.5;
  g.beginPath();
  if (pattern === "diagonal" || pattern === "cross") g.moveTo(0, 8), g.lineTo(8, 0);
  if (pattern === "cross") g.moveTo(0, 0), g.lineTo(8, 8);
  if (pattern === "vertical") g.moveTo(4, 0), g.lineTo(4, 8);
  if (pattern === "horizontal") g.moveTo(0, 4), g.lineTo(8, 4);
  g.stroke();
  if (pattern === "dots") g.fillRect(3, 3, 2, 2);
  return g.createPattern(tile, "repeat") ?? colour;
}

function describe(counts: Record<string, number>): string {
  const parts = Object.entries(counts).map(([code, n]) => `${n} ${outcome(code).label.toLowerCase()}`);
  return parts.length ? parts.join(", ") : "no calls";
}

function bucketLabel(start: string, granularity: Granularity): string {
  return granularity === "hour" ? start.slice(11, 16) : start.slice(0, 10);
}

/** The principal's calls per hour or day, stacked by outcome: a chart, and the same numbers as a table and a summary. */
export function UsagePanel(props: { principalId: string }) {
  const { api, org } = useSession();
  const [granularity, setGranularity] = useState<Granularity>("hour");
  const [usage, setUsage] = useState<Usage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    setError(null);
    ok(
      api.GET("/iam/orgs/{orgId}/api-keys/{principalId}/usage", {
        params: { path: { orgId: org.orgId, principalId: props.principalId }, query: { granularity } },
      }),
    ).then(setUsage, setError);
  }, [api, org.orgId, props.principalId, granularity]);

  useEffect(() => {
    if (!usage || !canvas.current) return;
    let chart: { destroy: () => void } | null = null;
    let cancelled = false;
    // The chart library is loaded by this panel alone: the console's first page does not carry it.
    import("chart.js").then(({ Chart, BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip }) => {
      if (cancelled || !canvas.current) return;
      Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);
      const codes = Object.keys(usage.totals);
      chart = new Chart(canvas.current, {
        type: "bar",
        data: {
          labels: usage.buckets.map((b) => bucketLabel(b.start, granularity)),
          datasets: codes.map((code) => ({
            label: outcome(code).label,
            data: usage.buckets.map((b) => b.counts[code] ?? 0),
            backgroundColor: fill(code),
            borderColor: outcome(code).colour,
            borderWidth: 1,
          })),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
    });
    return () => {
      cancelled = true;
      chart?.destroy();
    };
  }, [usage, granularity]);

  const busy = usage?.buckets.filter((b) => Object.keys(b.counts).length > 0) ?? [];
  const codes = usage ? Object.keys(usage.totals) : [];
  const span = granularity === "hour" ? "the last 24 hours" : "the last 30 days";
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Usage</h2>
      <div class="toolbar" role="group" aria-label="Usage view">
        <button type="button" aria-pressed={granularity === "hour"} onClick={() => setGranularity("hour")}>
          By hour
        </button>
        <button type="button" aria-pressed={granularity === "day"} onClick={() => setGranularity("day")}>
          By day
        </button>
      </div>
      <ErrorNotice error={error} />
      {usage && (
        <>
          <p id="usage-summary">
            In {span}: {describe(usage.totals)}. Counts reach this page within {usage.flushSeconds ?? 10} seconds of the calls.
          </p>
          <div class="chart">
            <canvas ref={canvas} role="img" aria-label={`Calls per ${granularity} by outcome, ${span}: ${describe(usage.totals)}`} />
          </div>
          <Table
            caption={`Calls per ${granularity} by outcome`}
            columns={[granularity === "hour" ? "Hour (UTC)" : "Day (UTC)", ...codes.map((c) => outcome(c).label)]}
            empty={busy.length === 0 && "No calls in this range."}
          >
            {busy.map((b) => (
              <tr key={b.start}>
                <td>{granularity === "hour" ? formatTime(b.start) : b.start.slice(0, 10)}</td>
                {codes.map((c) => (
                  <td key={c}>{b.counts[c] ?? 0}</td>
                ))}
              </tr>
            ))}
          </Table>
        </>
      )}
    </section>
  );
}

/** The principal's recent calls, newest first, each refusal with its fix from the seed's Common Fixes. */
export function RecentRequests(props: { principalId: string }) {
  const { api, org } = useSession();
  const { page, error, pager } = usePaged<RecentRequest>(
    (cursor) =>
      ok(
        api.GET("/iam/orgs/{orgId}/api-keys/{principalId}/recent-requests", {
          params: { path: { orgId: org.orgId, principalId: props.principalId }, query: { cursor, limit: 20 } },
        }),
      ),
    [api, org.orgId, props.principalId],
  );
  return (
    <section aria-labelledby="recent-title">
      <h2 id="recent-title">Recent requests</h2>
      <p class="hint">
        The last 3 days of calls with this principal's keys and tokens: every refusal (identical ones of a minute as one row,
        with their count), and one allowed call a minute per key.
      </p>
      <ErrorNotice error={error} />
      {page && (
        <Table caption="Recent requests" columns={["Time", "Route", "Source address", "Outcome", "Key id", "Fix"]} empty={page.items.length === 0 && "No recent requests."}>
          {page.items.map((r) => (
            <tr key={r.requestId + r.time}>
              <td>{formatTime(r.time)}</td>
              <td>
                <code>{r.route}</code>
              </td>
              <td>{r.sourceIp ?? "—"}</td>
              <td>
                <code>{r.code}</code>
                {r.count > 1 ? ` × ${r.count}` : ""}
              </td>
              <td>{r.keyId ? <code>{r.keyId}</code> : "—"}</td>
              <td>{r.code === "allowed" ? "" : (fixFor(r.code) ?? "")}</td>
            </tr>
          ))}
        </Table>
      )}
      {pager}
    </section>
  );
}
