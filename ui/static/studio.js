// Studio behaviour in the browser, installed once per page by the hidden `#studio-assets` HTML component:
// Ctrl+Enter generates and Esc cancels on the visible tab; palette legend chips pick the brush colour; the editor's
// swatches get their class names and close after a pick; a brush-size slider beside the canvas; prompt words that
// add themselves to the prompt. `STUDIO_CSS` is prepended by ui/assets.py.
(() => {
  if (window.__studioInstalled) return;
  window.__studioInstalled = true;

  const style = document.createElement("style");
  style.id = "studio-css";
  style.textContent = STUDIO_CSS;
  document.head.appendChild(style);

  const isVisible = (el) => !!el && el.getClientRects().length > 0;
  const firstVisible = (selector) => [...document.querySelectorAll(selector)].find(isVisible);
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  async function waitFor(find, frames = 30) {
    for (let i = 0; i < frames; i++) {
      const found = find();
      if (found) return found;
      await nextFrame();
    }
    return null;
  }
  const toRgb = (hex) => {
    const n = parseInt(hex.replace("#", ""), 16);
    return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
  };

  // ---- keyboard: Ctrl/Cmd+Enter runs the visible tab, Esc cancels its run --------------------------------------
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        const button = firstVisible("button.studio-generate, .studio-generate button");
        if (button && !button.disabled) {
          event.preventDefault();
          event.stopPropagation();
          button.click();
        }
      } else if (event.key === "Escape") {
        const running = firstVisible('.studio-progress[data-state="running"], .studio-progress[data-state="queued"]');
        const cancel = running && firstVisible("button.studio-cancel, .studio-cancel button");
        if (cancel) {
          event.preventDefault();
          cancel.click();
        }
      }
    },
    true,
  );

  // ---- palette: legend chips -> brush colour; labelled swatches; the popup closes after a pick -----------------
  const legendLabels = () => {
    const labels = {};
    document.querySelectorAll(".studio-legend [data-color]").forEach((chip) => {
      labels[toRgb(chip.dataset.color)] = chip.dataset.label;
    });
    return labels;
  };
  const closePopups = (editor) => {
    // The editor closes its colour and size popups on a mousedown outside them (the brush stays active).
    if (editor.querySelector(".swatch-container") || editor.querySelector(".size_picker")) {
      document.body.dispatchEvent(new MouseEvent("mousedown", { bubbles: true, view: window }));
    }
  };
  const markChosen = (editorId, hex) => {
    document.querySelectorAll(`.studio-legend[data-editor="${editorId}"] [data-color]`).forEach((chip) => {
      chip.setAttribute("aria-pressed", String(chip.dataset.color.toLowerCase() === hex.toLowerCase()));
    });
  };
  async function pickColour(editorId, hex) {
    const editor = document.getElementById(editorId);
    if (!editor) return;
    const colour = editor.querySelector('button[aria-label="Color"]');
    if (!colour) return;
    if (!editor.querySelector(".swatch-container")) colour.click();
    const swatches = await waitFor(() => editor.querySelector(".swatch-container"));
    if (!swatches) return;
    const swatch = [...swatches.querySelectorAll("button.color")].find((b) => b.style.backgroundColor === toRgb(hex));
    if (swatch) swatch.click(); // the capture listener below closes the popup and marks the legend
  }
  async function setBrushSize(editorId, size) {
    const editor = document.getElementById(editorId);
    const button = editor && editor.querySelector('button[aria-label="Brush Size"]');
    if (!button) return;
    if (!editor.querySelector(".size_picker")) button.click();
    const range = await waitFor(() => editor.querySelector('.size_picker input[type="range"]'));
    if (!range) return;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(range, String(size));
    range.dispatchEvent(new Event("input", { bubbles: true }));
    range.dispatchEvent(new Event("change", { bubbles: true }));
    await nextFrame();
    closePopups(editor);
  }
  let labelPending = false;
  const labelSwatches = () => {
    labelPending = false;
    const swatchButtons = document.querySelectorAll(".swatch-container button.color:not([data-label])");
    if (!swatchButtons.length) return;
    const labels = legendLabels();
    swatchButtons.forEach((button) => {
      const label = labels[button.style.backgroundColor];
      if (!label) return;
      button.dataset.label = label;
      button.title = label;
      button.setAttribute("aria-label", label);
      button.closest(".swatch-container").classList.add("studio-labelled");
    });
  };
  new MutationObserver(() => {
    if (!labelPending) {
      labelPending = true;
      requestAnimationFrame(labelSwatches);
    }
  }).observe(document.body, { childList: true, subtree: true });

  // ---- prompt words: a click adds the word to its prompt ------------------------------------------------------
  const appendWord = (targetId, word) => {
    const area = document.querySelector(`#${targetId} textarea`);
    if (!area) return;
    const text = area.value.trimEnd();
    const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
    setter.call(area, text ? `${text} ${word}` : word);
    area.dispatchEvent(new Event("input", { bubbles: true }));
  };

  document.addEventListener("click", (event) => {
    const chip = event.target.closest(".studio-legend [data-color]");
    if (chip) {
      event.preventDefault();
      pickColour(chip.closest(".studio-legend").dataset.editor, chip.dataset.color);
      return;
    }
    const word = event.target.closest(".studio-word");
    if (word) {
      event.preventDefault();
      appendWord(word.closest(".studio-words").dataset.target, word.dataset.word);
      return;
    }
  });
  // The editor's swatches stop the click from bubbling: listen in the capture phase, act after the editor did.
  document.addEventListener(
    "click",
    (event) => {
      const swatch = event.target.closest(".swatch-container button.color");
      const editor = swatch && swatch.closest("[id$='-editor']");
      if (!editor) return;
      const rgb = swatch.style.backgroundColor.match(/\d+/g) || [];
      const hex = "#" + rgb.map((v) => (+v).toString(16).padStart(2, "0")).join("");
      setTimeout(() => {
        closePopups(editor);
        markChosen(editor.id, hex);
      }, 0);
    },
    true,
  );
  document.addEventListener("change", (event) => {
    const size = event.target.closest(".studio-brush-size input");
    if (size) setBrushSize(size.closest(".studio-brush-size").dataset.editor, size.value);
  });
})();
