// Boxes that scroll (a wide table at a phone's width) become keyboard-reachable regions while they do.
// A table of plain text in a box that scrolls sideways cannot be scrolled with the keyboard unless
// the box takes the focus (WCAG 2.1.1): such a box gets tabindex="0", role="region" and its
// table's caption as its name; when it fits again (a wider window), it gives them back.
const BOXES = ".table-wrap, .diff-wrap";
const MARK = "scrollRegion"; // data-scroll-region: the attributes are ours, not the page's

function update(root, sizes) {
  for (const box of root.querySelectorAll(BOXES)) {
    // A box starts or stops scrolling when it or its table changes size (a wider window, a
    // <details> opened in a cell, a font loaded), not only when the page changes.
    sizes.observe(box);
    if (box.firstElementChild) sizes.observe(box.firstElementChild);
    const scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
    if (scrolls && !box.hasAttribute("tabindex")) {
      const caption = box.querySelector("caption")?.textContent.trim();
      box.dataset[MARK] = "";
      box.setAttribute("tabindex", "0");
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", caption ? `${caption} (scrolls)` : "Table (scrolls)");
    } else if (!scrolls && MARK in box.dataset) {
      if (box === document.activeElement) continue; // keep the focus where the user put it
      delete box.dataset[MARK];
      for (const name of ["tabindex", "role", "aria-label"]) box.removeAttribute(name);
    }
  }
}

/** Keeps the scrolling boxes under `root` reachable: after each change to the page and each change
 * of a box's or its table's size. */
export function watchScrollRegions(root) {
  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      update(root, sizes);
    });
  };
  const sizes = new ResizeObserver(schedule); // elements removed from the page are let go
  new MutationObserver(schedule).observe(root, { childList: true, subtree: true });
  schedule();
}
