// The rows of a live list (jobs, sweeps): one <tr> per item, newest first, redrawn in place when
// the item changes (the focus stays on the button it was on), removed when it no longer matches.
import { h } from "./format.js";

/** items: id -> item (the list's own map); cells(item): the row's <td>s; matches(item): shown? */
export function liveRows({ tbody, items, cells, matches }) {
  const rows = new Map(); // id -> <tr>
  return {
    get size() {
      return rows.size;
    },
    clear() {
      rows.clear();
      tbody.replaceChildren();
    },
    render(item) {
      let tr = rows.get(item.id);
      if (!matches(item)) {
        tr?.remove();
        rows.delete(item.id);
      } else if (tr) {
        const focused = tr.contains(document.activeElement) ? document.activeElement.dataset.action : null;
        tr.replaceChildren(...cells(item));
        tr.dataset.status = item.status;
        if (focused) tr.querySelector(`[data-action="${focused}"]`)?.focus();
      } else {
        tr = h("tr", { "data-id": item.id, "data-status": item.status }, cells(item));
        rows.set(item.id, tr);
        // newest first: before the first row submitted earlier
        const after = [...rows.entries()].find(([id]) => id !== item.id && items.get(id).submitted_at < item.submitted_at);
        if (after) tbody.insertBefore(tr, after[1]);
        else tbody.append(tr);
      }
    },
  };
}
