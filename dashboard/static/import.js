// Import dialog: drop a CSV file or pick one, upload it with a progress bar, then show the
// counts and warnings, or the invalid rows with a button that imports only the valid ones.

import { ApiError, uploadCsv } from "./api.js";
import { errorMessage } from "./common.js";
import { byId, el, replace } from "./dom.js";
import { fill, formatCount, formatPercent, plural } from "./format.js";
import { S } from "./strings.js";

let uploading = false;

function setProgress(text, percent) {
  const bar = byId("import-progress-bar");
  byId("import-progress").hidden = false;
  byId("import-progress-text").textContent = text;
  if (percent === null) bar.removeAttribute("value");
  else bar.value = percent;
}

function countsList(result) {
  return el("dl", { class: "counts", id: "import-counts" },
    ["created", "updated", "skipped"].map((name) =>
      el("div", { dataset: { count: name } },
        el("dt", { text: S.importCount[name] }),
        el("dd", { text: formatCount(result[name]) }),
      ),
    ),
  );
}

function warningsList(warnings) {
  if (warnings.length === 0) return null;
  return el("div", { class: "alert alert-warning", id: "import-warnings" },
    el("h3", { text: plural(S.importWarnings, warnings.length) }),
    el("ul", {}, warnings.map((warning) => el("li", { text: warning }))),
  );
}

function errorsTable(errors) {
  return el("div", { class: "table-scroll errors-scroll", tabindex: "0", role: "region", "aria-labelledby": "import-errors-caption" },
    el("table", { class: "data-table errors-table", id: "import-errors" },
      el("caption", { id: "import-errors-caption", class: "visually-hidden", text: S.importErrorsCaption }),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", class: "number", text: S.importErrorLine }),
        el("th", { scope: "col", text: S.importErrorColumn }),
        el("th", { scope: "col", text: S.importErrorReason }),
      )),
      el("tbody", {}, errors.map((error) =>
        el("tr", { dataset: { line: String(error.line) } },
          el("td", { class: "number", dataset: { label: S.importErrorLine }, text: formatCount(error.line) }),
          el("td", { class: error.column ? "mono" : "muted", text: error.column || S.importWholeRow }),
          el("td", { text: error.reason }),
        ),
      )),
    ),
  );
}

function showImported(container, result) {
  replace(container,
    el("div", { class: "import-success", role: "status" },
      el("span", { class: "check-mark", "aria-hidden": "true", text: S.checkMark }),
      el("h3", { text: S.importDone }),
    ),
    countsList(result),
    warningsList(result.warnings),
    result.errors.length === 0
      ? null
      : el("details", { class: "skipped-rows" },
        el("summary", { text: plural(S.importSkippedRows, result.errors.length) }),
        errorsTable(result.errors),
      ),
  );
}

function showRejected(container, result, file) {
  const partialButton = el("button", {
    type: "button",
    id: "import-partial",
    class: "button button-primary",
    text: S.importPartial,
    on: { click: () => startUpload(file, true) },
  });
  replace(container,
    el("div", { class: "alert alert-error", role: "alert" },
      el("h3", { text: plural(S.importRejected, result.errors.length) }),
      el("p", { text: S.importRejectedHelp }),
    ),
    errorsTable(result.errors),
    el("div", { class: "dialog-actions" }, partialButton),
    warningsList(result.warnings),
  );
}

async function startUpload(file, partial) {
  if (uploading) return;
  uploading = true;
  const result = byId("import-result");
  replace(result);
  byId("import-choose").disabled = true;
  setProgress(fill(S.importUploading, { name: file.name, percent: formatPercent(0) }), 0);
  try {
    const body = await uploadCsv(file, {
      partial,
      onProgress: (loaded, total) => {
        const fraction = total > 0 ? loaded / total : 0;
        setProgress(fill(S.importUploading, { name: file.name, percent: formatPercent(fraction) }), Math.round(fraction * 100));
      },
      onUploaded: () => setProgress(S.importProcessing, null),
    });
    byId("import-dialog").classList.add("import-has-result");
    if (body.imported) showImported(result, body);
    else showRejected(result, body, file);
  } catch (error) {
    replace(result,
      el("div", { class: "alert alert-error", role: "alert" },
        el("h3", { text: S.importFailed }),
        el("p", { class: "alert-message", text: error instanceof ApiError ? error.message : errorMessage(error) }),
      ),
    );
  } finally {
    uploading = false;
    byId("import-progress").hidden = true;
    byId("import-choose").disabled = false;
    byId("import-file").value = "";
  }
}

function pickFile(files) {
  const file = files && files[0];
  if (!file) return;
  if (files.length > 1) {
    replace(byId("import-result"), el("p", { class: "note", text: fill(S.importOneFile, { name: file.name }) }));
  }
  startUpload(file, false);
}

export function setupImport() {
  const dialog = byId("import-dialog");
  const drop = byId("import-drop");
  const input = byId("import-file");

  byId("import-open").addEventListener("click", () => dialog.showModal());
  byId("import-close").addEventListener("click", () => dialog.close());
  byId("import-choose").addEventListener("click", () => input.click());
  input.addEventListener("change", () => pickFile(input.files));

  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      drop.classList.add("drop-zone-active");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("drop-zone-active"));
  }
  // A file dropped beside the drop zone would otherwise replace the page with the file.
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => {
      if (event.dataTransfer && [...event.dataTransfer.types].includes("Files")) event.preventDefault();
    });
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!uploading) pickFile(event.dataTransfer.files);
  });
}
