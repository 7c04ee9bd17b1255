// The live view: each "state" event of /api/events holds the whole view (the server's View as
// JSON); the page is drawn again from it. Text from the BBS only ever goes into textContent and
// attributes, never into markup.
"use strict";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== "") e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function instanceTitle(a) {
  let t = `${a.process_guid}/${a.index} ${a.state}`;
  if (a.presence !== "ORDINARY") t += ` (${a.presence})`;
  if (a.cell_id) t += ` on ${a.cell_id}`;
  if (a.address) t += ` at ${a.address}`;
  if (a.crash_count) t += `, ${a.crash_count} crashes`;
  if (a.crash_reason) t += `: ${a.crash_reason}`;
  if (a.placement_error) t += `, ${a.placement_error}`;
  if (a.since) t += `, since ${new Date(a.since / 1e6).toLocaleTimeString()}`;
  return t;
}

function instance(a) {
  return el("span", {
    class: "instance", "data-state": a.state, "data-presence": a.presence,
    "data-process-guid": a.process_guid, "data-index": a.index, title: instanceTitle(a),
  });
}

function task(t) {
  return el("span", {
    class: "task", "data-state": t.state, "data-task-guid": t.task_guid,
    title: `task ${t.task_guid} ${t.state}`,
  });
}

function meter(label, used, total, unit) {
  const pct = total > 0 ? Math.min(100, Math.round((100 * used) / total)) : 0;
  return el("div", { class: "meter" },
    el("span", { class: "label" }, label),
    el("span", { class: "bar" }, el("span", { class: "fill", style: `width:${pct}%` })),
    el("span", { class: "value" }, `${used}/${total}${unit}`));
}

// repLine is what the cell's rep says of itself, when the dashboard asks the reps.
function repLine(r) {
  if (!r) return "";
  if (r.error) return el("div", { class: "rep note", title: r.error }, "rep did not answer");
  const a = r.available;
  let t = `rep: ${a.memory_mb} MB, ${a.disk_mb} MB disk, ${a.containers} containers free`;
  if (r.starting_containers) t += `, ${r.starting_containers} starting`;
  return el("div", { class: "rep" }, t);
}

function cellCard(c, actuals, tasks) {
  const evacuating = c.rep && c.rep.evacuating;
  return el("div", { class: "cell", "data-cell-id": c.cell_id, "data-missing": c.missing ? "true" : "", "data-evacuating": evacuating ? "true" : "" },
    el("h4", {}, c.cell_id,
      c.missing ? el("span", { class: "note" }, " no presence") : "",
      evacuating ? el("span", { class: "badge" }, "evacuating") : ""),
    meter("memory", c.used.memory_mb, c.capacity.memory_mb, " MB"),
    meter("disk", c.used.disk_mb, c.capacity.disk_mb, " MB"),
    meter("containers", c.used.containers, c.capacity.containers, ""),
    repLine(c.rep),
    el("div", { class: "instances" }, ...actuals.map(instance), ...tasks.map(task)));
}

function groupBy(list, key) {
  const m = new Map();
  for (const x of list) {
    const k = key(x);
    if (!m.has(k)) m.set(k, []);
    m.get(k).push(x);
  }
  return m;
}

function render(v) {
  const onCell = groupBy(v.actual_lrps.filter((a) => a.cell_id), (a) => a.cell_id);
  const tasksOnCell = groupBy(v.tasks.filter((t) => t.cell_id && t.state === "Running"), (t) => t.cell_id);
  const zones = document.getElementById("zones");
  zones.replaceChildren(...[...groupBy(v.cells, (c) => c.zone)].map(([zone, cells]) =>
    el("div", { class: "zone", "data-zone": zone },
      el("h3", {}, zone ? `zone ${zone}` : "no zone"),
      el("div", { class: "cells" }, ...cells.map((c) =>
        cellCard(c, onCell.get(c.cell_id) || [], tasksOnCell.get(c.cell_id) || []))))));

  const unplaced = v.actual_lrps.filter((a) => !a.cell_id);
  document.getElementById("unplaced").replaceChildren(...(unplaced.length === 0 ? [] : [
    el("h3", {}, "not on a cell"),
    el("div", { class: "instances" }, ...unplaced.map(instance)),
  ]));

  const byGuid = groupBy(v.actual_lrps, (a) => a.process_guid);
  document.querySelector("#desired-lrps tbody").replaceChildren(...v.desired_lrps.map((d) =>
    el("tr", { "data-process-guid": d.process_guid },
      el("td", {}, d.process_guid, el("div", { class: "instances" }, ...(byGuid.get(d.process_guid) || []).map(instance))),
      el("td", {}, d.domain),
      el("td", {}, String(d.instances)),
      el("td", {}, String(d.states.RUNNING || 0)),
      el("td", {}, `${d.memory_mb} MB`),
      el("td", {}, `${d.disk_mb} MB`),
      el("td", {}, d.rootfs))));

  document.querySelector("#tasks tbody").replaceChildren(...v.tasks.map((t) =>
    el("tr", { "data-task-guid": t.task_guid, "data-state": t.state },
      el("td", {}, t.task_guid),
      el("td", {}, t.domain),
      el("td", {}, t.state),
      el("td", {}, t.cell_id || ""),
      el("td", {}, `${t.memory_mb} MB`),
      el("td", {}, t.failed ? `failed: ${t.failure_reason}` : (t.state === "Completed" ? "succeeded" : "")))));

  const running = v.actual_lrps.filter((a) => a.state === "RUNNING").length;
  document.getElementById("summary").textContent =
    `${v.cells.length} cells, ${v.desired_lrps.length} desired LRPs, ${running}/${v.actual_lrps.length} instances running, ${v.tasks.length} tasks`;
  const error = document.getElementById("error");
  error.hidden = !v.error;
  error.textContent = v.error ? `The view may be stale: ${v.error}` : "";
}

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("api/events");
  source.addEventListener("open", () => {
    status.textContent = "live";
    status.dataset.connected = "true";
  });
  source.addEventListener("error", () => {
    // EventSource connects again by itself
    status.textContent = "reconnecting…";
    status.dataset.connected = "false";
  });
  source.addEventListener("state", (e) => render(JSON.parse(e.data)));
}

connect();
