import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { describe } from "../fixes";

/** A modal dialog (the platform's own: focus stays inside, Escape closes it). */
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={props.onClose}>
      {props.open && (
        <>
          <h2 id={titleId}>{props.title}</h2>
          {props.children}
        </>
      )}
    </dialog>
  );
}

/** A failure in plain words, with its code and the fix from the seed's "Common Fixes". */
export function ErrorNotice(props: { error: unknown }) {
  if (!props.error) return null;
  const { code, message, fix, fields } = describe(props.error);
  return (
    <div class="error" role="alert">
      <p>
        <strong>{message}</strong> <code class="code">{code}</code>
      </p>
      {fields.length > 0 && (
        <ul>
          {fields.map((f) => (
            <li key={f.field}>
              <code>{f.field || "body"}</code> {f.message}
            </li>
          ))}
        </ul>
      )}
      {fix && <p class="fix">Fix: {fix}</p>}
    </div>
  );
}

/** Previous and next pages of a cursor-paged list. */
export function Pager(props: { hasPrevious: boolean; next: string | null | undefined; onPrevious: () => void; onNext: () => void }) {
  if (!props.hasPrevious && !props.next) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!props.hasPrevious} onClick={props.onPrevious}>
        Previous page
      </button>
      <button type="button" disabled={!props.next} onClick={props.onNext}>
        Next page
      </button>
    </nav>
  );
}

/** Cursor paging state: the cursors of the pages before this one. */
export function useCursorStack() {
  const stack = useRef<(string | undefined)[]>([]);
  return stack;
}

export function StatusBadge(props: { status: string }) {
  return <span class={`badge badge-${props.status.toLowerCase()}`}>{props.status}</span>;
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return "—";
  return value.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

/** When a credential was last used, and from which address and on which route (recorded together, at most once per 5 minutes). */
export function LastUsed(props: { at: string | null | undefined; ip: string | null | undefined; route: string | null | undefined }) {
  if (!props.at) return <>Never</>;
  return (
    <>
      {formatTime(props.at)}
      {props.ip && (
        <span class="hint detail">
          from <code>{props.ip}</code>
        </span>
      )}
      {props.route && (
        <span class="hint detail">
          on <code>{props.route}</code>
        </span>
      )}
    </>
  );
}

/** A date input's value (YYYY-MM-DD) as the end of that day in UTC, as the API takes it. */
export function expiryFromDate(date: string): string | undefined {
  return date ? `${date}T23:59:59Z` : undefined;
}

/** A confirmation in a modal dialog: `ask` resolves true when the person confirms. */
export function useConfirm(): [preact.JSX.Element, (question: string, confirmLabel: string) => Promise<boolean>] {
  const [pending, setPending] = useState<{ question: string; label: string; resolve: (yes: boolean) => void } | null>(null);
  const answer = (yes: boolean) => {
    pending?.resolve(yes);
    setPending(null);
  };
  const element = (
    <Dialog title="Confirm" open={pending !== null} onClose={() => answer(false)}>
      <p>{pending?.question}</p>
      <div class="actions">
        <button type="button" class="danger" onClick={() => answer(true)}>
          {pending?.label}
        </button>
        <button type="button" onClick={() => answer(false)}>
          Cancel
        </button>
      </div>
    </Dialog>
  );
  const ask = (question: string, label: string) =>
    new Promise<boolean>((resolve) => setPending({ question, label, resolve }));
  return [element, ask];
}

/**
 * One cursor-paged list: the current page, its error, and the Previous / Next pager. `load` reads
 * the page at a cursor; `restart` goes back to the first page (after a filter changes). `deps`
 * re-read the current page.
 */
export function usePaged<T>(load: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>, deps: unknown[]) {
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<{ items: T[]; nextCursor: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => {
    setError(null);
    load(cursor).then(setPage, setError);
  }, [...deps, cursor]);
  const pager = (
    <Pager
      hasPrevious={cursors.length > 0}
      next={page?.nextCursor}
      onPrevious={() => setCursors(cursors.slice(0, -1))}
      onNext={() => page?.nextCursor && setCursors([...cursors, page.nextCursor])}
    />
  );
  return { page, error, setError, pager, restart: () => setCursors([]) };
}

/** A table with a caption for screen readers, column headers (`""`: an actions column), and a row saying it is empty. */
export function Table(props: { caption: string; columns: string[]; empty?: string | false; children: ComponentChildren }) {
  return (
    <table>
      <caption class="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((c, i) => (
            <th scope="col" key={i}>
              {c || <span class="visually-hidden">Actions</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.children}
        {props.empty && (
          <tr>
            <td colSpan={props.columns.length}>{props.empty}</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

/** A form's submit and Cancel buttons. */
export function FormActions(props: { submit: string; busy?: boolean; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="submit" class="primary" disabled={props.busy}>
        {props.submit}
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A form's submit handler: runs `action` with the form's fields, keeping its failure and whether it is running. */
export function useFormSubmit(action: (form: FormData) => Promise<void>) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action(new FormData(e.target as HTMLFormElement));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { submit, error, busy };
}
