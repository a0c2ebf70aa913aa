import Hummingbird

/// `GET /dashboard`: one self-contained page that lists running and recent bulk operations,
/// rollouts and schedules, with progress bars refreshed every second from the API (the progress
/// comes from the same Redis counters dashboards read). With `#operation=ID` (or `rollout=`,
/// `schedule=`) it watches that record live from `GET /events` (Server-Sent Events, read with a
/// streaming fetch so the token stays in a header) and polls nothing; should the stream fail, it
/// falls back to polling. The page carries no data and needs no
/// scope; its calls use a read token from `#token=...` in the URL (never sent to the server as
/// part of the page request) or typed in once and kept in the browser's local storage.
enum Dashboard {
    static func response() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let html = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Fleet Engine</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
          body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
          h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.6rem; }
          table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; }
          .bar { display: flex; width: 220px; height: 12px; background: #eee; border-radius: 3px; overflow: hidden; }
          .bar span { display: block; height: 100%; } .ok { background: #2e9d4c; } .failed { background: #d43b3b; }
          .skipped { background: #b5b5b5; } .running { background: #3b7dd4; }
          .counts { font-variant-numeric: tabular-nums; color: #555; } #error { color: #d43b3b; } code { font-size: 12px; }
        </style></head>
        <body>
        <h1>Fleet Engine</h1>
        <div id="error"></div>
        <form id="login" hidden>API token (read scope): <input id="token" type="password" size="40"> <button>Watch</button></form>
        <div id="live" hidden><h2>Live: <code id="live-id"></code></h2><div id="live-view"></div></div>
        <h2>Bulk operations</h2><table><thead><tr><th>id</th><th>type</th><th>status</th><th>progress</th><th>counts</th></tr></thead><tbody id="bulk"></tbody></table>
        <h2>Rolling deployments</h2><table><thead><tr><th>id</th><th>type</th><th>status</th><th>batch</th><th>progress</th><th>counts</th></tr></thead><tbody id="rolling"></tbody></table>
        <h2>Schedules</h2><table><thead><tr><th>name</th><th>cron</th><th>enabled</th><th>next run</th><th>last run</th><th>last status</th></tr></thead><tbody id="schedules"></tbody></table>
        <p class="counts">Refreshed every second. <span id="updated"></span></p>
        <script>
        const hash = new URLSearchParams(location.hash.slice(1));
        const fromHash = hash.get("token");
        const watched = ["operation", "rollout", "schedule"].find(k => hash.get(k));
        let polls = 0;
        if (fromHash) localStorage.setItem("fleetToken", fromHash);
        let token = localStorage.getItem("fleetToken");
        const esc = s => String(s ?? "-").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
        async function get(path) {
          const r = await fetch("/api/v1/fleet" + path, { headers: { Authorization: "Bearer " + token } });
          if (r.status === 401 || r.status === 403) { document.getElementById("login").hidden = false; throw new Error("token refused (" + r.status + ")"); }
          if (r.status === 402) return null;  // feature not enabled
          return r.json();
        }
        function bar(p) {
          const t = Math.max(p.total || 0, 1), w = n => (100 * (n || 0) / t).toFixed(1) + "%";
          return `<div class="bar"><span class="ok" style="width:${w(p.succeeded)}"></span><span class="failed" style="width:${w(p.failed)}"></span>` +
                 `<span class="skipped" style="width:${w(p.skipped)}"></span><span class="running" style="width:${w(p.running)}"></span></div>`;
        }
        function counts(p, id) {
          return `<span class="counts" data-id="${esc(id)}" data-succeeded="${p.succeeded}" data-failed="${p.failed}" data-total="${p.total}">` +
                 `${p.succeeded} ok · ${p.failed} failed · ${p.skipped} skipped · ${p.running} running · ${p.queued} queued of ${p.total}</span>`;
        }
        // Running first, then the most recent; at most 30 rows.
        const open = s => s === "queued" || s === "running" || s === "paused";
        const pick = list => [...list.filter(o => open(o.status)), ...list.filter(o => !open(o.status))].slice(0, 30);
        async function refresh() {
          polls++;
          try {
            const [bulk, rolling, schedules] = await Promise.all([get("/bulk?limit=200"), get("/rolling?limit=100"), get("/schedules?limit=50")]);
            document.getElementById("bulk").innerHTML = pick(bulk?.operations ?? []).map(o =>
              `<tr><td><code>${esc(o.id)}</code></td><td>${esc(o.operation_type)}</td><td>${esc(o.status)}</td><td>${bar(o.progress)}</td><td>${counts(o.progress, o.id)}</td></tr>`).join("");
            document.getElementById("rolling").innerHTML = pick(rolling?.deployments ?? []).map(d =>
              `<tr><td><code>${esc(d.id)}</code></td><td>${esc(d.operation_type)}</td><td>${esc(d.status)}</td><td>${d.current_batch}/${d.total_batches}</td>` +
              `<td>${bar(d.progress)}</td><td>${counts(d.progress, d.id)}</td></tr>`).join("");
            document.getElementById("schedules").innerHTML = (schedules?.schedules ?? []).map(s =>
              `<tr><td>${esc(s.name)}</td><td><code>${esc(s.cron)}</code> ${esc(s.timezone)}</td><td>${s.enabled}</td><td>${esc(s.next_run)}</td><td>${esc(s.last_run)}</td><td>${esc(s.last_status)}</td></tr>`).join("");
            document.getElementById("updated").textContent = "Last update " + new Date().toISOString();
            document.getElementById("updated").dataset.polls = polls;
            document.getElementById("error").textContent = "";
          } catch (e) { document.getElementById("error").textContent = String(e.message || e); }
        }
        document.getElementById("login").addEventListener("submit", e => {
          e.preventDefault(); token = document.getElementById("token").value; localStorage.setItem("fleetToken", token);
          document.getElementById("login").hidden = true; refresh();
        });
        // The watched record's live view: counts from its snapshot, moved by each event.
        function showLive(id, p, status, events) {
          document.getElementById("live-view").innerHTML = `<p>${esc(status)}</p>${bar(p)}` +
            `<span class="counts" data-live="${esc(id)}" data-events="${events}" data-succeeded="${p.succeeded}" data-total="${p.total}">` +
            `${p.succeeded} ok · ${p.failed} failed · ${p.skipped} skipped · ${p.running} running · ${p.queued} queued of ${p.total}</span>`;
        }
        async function live() {
          const id = hash.get(watched);
          document.getElementById("live").hidden = false;
          document.getElementById("live-id").textContent = id;
          const r = await fetch(`/api/v1/fleet/events?${watched}=${encodeURIComponent(id)}`, { headers: { Authorization: "Bearer " + token } });
          if (!r.ok || !r.body) throw new Error("events: " + r.status);
          const reader = r.body.getReader(), decoder = new TextDecoder();
          let buffer = "", events = 0, p = { total: 0, queued: 0, running: 0, succeeded: 0, failed: 0, skipped: 0 }, status = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            buffer += decoder.decode(value, { stream: true });
            for (let end; (end = buffer.indexOf("\n\n")) >= 0; ) {
              const chunk = buffer.slice(0, end); buffer = buffer.slice(end + 2);
              const name = /^event: (.*)$/m.exec(chunk)?.[1], data = /^data: (.*)$/m.exec(chunk)?.[1];
              if (!name || !data) continue;  // a heartbeat or the retry hint
              const e = JSON.parse(data); events++;
              if (name === "snapshot") { p = { ...(e.progress ?? p) }; status = e.status ?? status; }
              else if (name === "host" && p[e.status] !== undefined) {
                p[e.status]++;
                if (p.running > 0) p.running--; else if (p.queued > 0) p.queued--;
              } else if (name === "finished") { status = e.status; }
              else if (name === "batch") { status = `running (batch ${e.batch}/${e.total_batches})`; }
              else if (name === "halted") { status = "halted: " + e.halted_reason; }
              else if (name === "fired") { status = "fired at " + e.fire_at + ": " + e.operation_id; }
              showLive(id, p, status, events);
            }
          }
        }
        function poll() { refresh(); setInterval(() => { if (token) refresh(); }, 1000); }
        if (!token) document.getElementById("login").hidden = false;
        else if (watched) { refresh(); live().catch(e => { document.getElementById("error").textContent = String(e.message || e) + " (polling instead)"; poll(); }); }
        else poll();
        </script>
        </body></html>
        """#
}
