extension JobPage {
  /// The page's style sheet: system colours, light and dark.
  static let style = #"""
    :root{color-scheme:light dark;--ok:#1a7f37;--bad:#cf222e;--wait:#9a6700;--run:#0969da;--line:#d0d7de;--muted:#57606a}
    @media (prefers-color-scheme:dark){:root{--ok:#3fb950;--bad:#f85149;--wait:#d29922;--run:#58a6ff;--line:#30363d;--muted:#8b949e}}
    body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:1rem 1.5rem;max-width:110rem;background:Canvas;color:CanvasText}
    h1{font-size:1.4rem;margin:.5rem 0}
    #summary,#live,#more-note,footer,.ago{color:var(--muted)}
    [hidden]{display:none !important}
    form{display:flex;gap:1rem;flex-wrap:wrap;margin:.75rem 0}
    label{display:flex;gap:.4rem;align-items:center}
    input,select,button{font:inherit;padding:.25rem .5rem}
    table{border-collapse:collapse;width:100%}
    th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
    th{position:sticky;top:0;background:Canvas}
    td{overflow-wrap:break-word}
    .number{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    .status{font-weight:600;white-space:nowrap}
    .status.success{color:var(--ok)}.status.failed,.error{color:var(--bad)}
    .status.pending{color:var(--wait)}.status.started{color:var(--run)}
    .ago{display:block;font-size:.85em;white-space:nowrap}
    .delivery{display:block;font-size:.85em;color:var(--muted)}.delivery.error{color:var(--bad)}
    :focus-visible{outline:2px solid var(--run);outline-offset:2px}
    """#

  /// The page's script: filter, search, paging and updates from `index.json`.
  static let script = #"""
    "use strict";
    (() => {
      const byId = (id) => document.getElementById(id);
      const tbody = byId("jobs"), statusFilter = byId("status"), search = byId("search");
      const more = byId("more"), moreNote = byId("more-note"), summary = byId("summary"), live = byId("live");
      const states = ["pending", "started", "success", "failed"];
      const symbols = { pending: "◷", started: "▶", success: "✓", failed: "✗" };
      const number = new Intl.NumberFormat("en");
      const page = 200;
      let jobs = null, shown = page, validator = null, timer = 0;

      const readable = (time) => time.slice(0, 19).replace("T", " ");
      const size = (bytes) => {
        if (bytes < 1000) return bytes + " B";
        let value = bytes;
        for (const unit of ["KB", "MB", "GB", "TB"]) {
          value /= 1000;
          if (value < 999.95 || unit === "TB") return value.toFixed(1) + " " + unit;
        }
      };
      const ago = (time) => {
        const seconds = Math.max(0, Math.round((Date.now() - Date.parse(time)) / 1000));
        if (seconds < 60) return seconds + " s ago";
        const minutes = Math.round(seconds / 60);
        if (minutes < 60) return minutes + " min ago";
        const hours = Math.round(minutes / 60);
        return hours < 48 ? hours + " h ago" : Math.round(hours / 24) + " days ago";
      };
      const cell = (tr, text, className) => {
        const td = tr.insertCell();
        td.textContent = text == null ? "" : String(text);
        if (className) td.className = className;
        return td;
      };
      const lastSegment = (href) => href.slice(href.lastIndexOf("/") + 1);
      const searchText = (job) => {
        const request = (job.meta && job.meta.request) || {};
        const file = job.link && job.link.href ? decodeURIComponent(lastSegment(job.link.href)) : "";
        return [request.reference || "", request.file || "", file].join(" ").toLowerCase();
      };

      function delivery(status) {
        const note = document.createElement("span");
        note.className = "delivery";
        const attempts = status.attempts + (status.attempts === 1 ? " attempt" : " attempts");
        if (status.delivered_at) {
          note.textContent = "delivered " + readable(status.delivered_at) + " UTC";
          if (status.url) note.title = status.url;
        } else if (status.last_error) {
          note.className += " error";
          note.textContent = (status.gave_up ? "delivery given up after " : "delivery retrying after ")
            + attempts + ": " + status.last_error;
        } else {
          note.textContent = "delivery pending";
        }
        return note;
      }

      function row(job) {
        const meta = job.meta || {}, request = meta.request || {};
        const tr = document.createElement("tr");
        tr.dataset.status = job.status;
        const status = document.createElement("span");
        status.className = "status " + job.status;
        status.textContent = (symbols[job.status] || "") + " " + job.status;
        tr.insertCell().append(status);
        cell(tr, job.job_type);
        const created = document.createElement("time");
        created.dateTime = job.timestamps.created_at;
        created.textContent = readable(job.timestamps.created_at);
        tr.insertCell().append(created);
        cell(tr, meta.rows == null ? "" : number.format(meta.rows), "number");
        const bytes = cell(tr, meta.bytes == null ? "" : size(meta.bytes), "number");
        if (meta.bytes != null) bytes.title = number.format(meta.bytes) + " bytes";
        cell(tr, request.reference);
        cell(tr, request.file);
        if (job.status === "success" && job.link && job.link.href) {
          const link = document.createElement("a");
          link.href = "files/" + job.id + "/" + lastSegment(job.link.href);
          link.download = "";
          link.textContent = decodeURIComponent(lastSegment(job.link.href));
          const parts = meta.parts == null ? "" : " · " + meta.parts + (meta.parts === 1 ? " part" : " parts");
          const td = tr.insertCell();
          td.append(link, parts);
          if (meta.delivery) td.append(delivery(meta.delivery));
        } else if (job.status === "failed") {
          cell(tr, job.error || "failed", "error");
        } else {
          cell(tr, "");
        }
        return tr;
      }

      function showAges() {
        for (const time of tbody.querySelectorAll("time")) {
          let note = time.nextElementSibling;
          if (!note) {
            note = document.createElement("span");
            note.className = "ago";
            time.after(note);
          }
          note.textContent = ago(time.dateTime);
        }
      }

      const matches = (status, text, wanted, query) =>
        (!wanted || status === wanted) && (!query || text.includes(query));

      function render() {
        const wanted = statusFilter.value, query = search.value.trim().toLowerCase();
        if (!jobs) {
          // Opened as a file (or index.json not loaded yet): filter the rows the page came with.
          for (const tr of tbody.rows) {
            if (tr.dataset.status) tr.hidden = !matches(tr.dataset.status, tr.dataset.search || "", wanted, query);
          }
          showAges();
          return;
        }
        const list = jobs.filter((job) => matches(job.status, searchText(job), wanted, query));
        const rows = document.createDocumentFragment();
        for (const job of list.slice(0, shown)) rows.append(row(job));
        if (list.length === 0) {
          const tr = document.createElement("tr");
          cell(tr, jobs.length ? "No job matches." : "No jobs yet: drop a request into the inbox.").colSpan = 8;
          rows.append(tr);
        }
        tbody.replaceChildren(rows);
        more.hidden = list.length <= shown;
        moreNote.textContent = list.length > shown
          ? "Showing " + number.format(shown) + " of " + number.format(list.length) + " jobs." : "";
        const counts = Object.fromEntries(states.map((state) => [state, 0]));
        for (const job of jobs) counts[job.status] = (counts[job.status] || 0) + 1;
        summary.textContent = number.format(jobs.length) + (jobs.length === 1 ? " job: " : " jobs: ")
          + states.map((state) => number.format(counts[state]) + " " + state).join(", ")
          + ". Updated " + readable(new Date().toISOString()) + " UTC.";
        showAges();
      }

      async function update() {
        clearTimeout(timer);
        let delay = 3000;
        try {
          // A conditional request: the server answers 304 while index.json has not changed.
          const response = await fetch("index.json", { cache: "no-cache" });
          if (!response.ok) throw new Error("HTTP " + response.status);
          const seen = (response.headers.get("ETag") || "") + " " + (response.headers.get("Last-Modified") || "");
          if (jobs === null || seen.trim() === "" || seen !== validator) {
            jobs = (await response.json()).data;
            validator = seen;
            render();
          } else {
            showAges();
          }
          live.textContent = "";
          if (jobs.some((job) => job.status === "pending" || job.status === "started")) delay = 1000;
        } catch (error) {
          if (location.protocol === "file:") {
            live.textContent = "Opened as a file: reload the page to see new jobs.";
            return;
          }
          live.textContent = "Could not load index.json (" + error.message + "); trying again.";
          delay = 10000;
        }
        timer = setTimeout(update, document.hidden ? Math.max(delay, 10000) : delay);
      }

      const refilter = () => { shown = page; render(); };
      statusFilter.addEventListener("change", refilter);
      search.addEventListener("input", refilter);
      more.addEventListener("click", () => { shown += page; render(); });
      byId("controls").addEventListener("submit", (event) => event.preventDefault());
      byId("controls").hidden = false;
      document.addEventListener("visibilitychange", () => { if (!document.hidden) update(); });
      render();
      update();
    })();
    """#
}
