// orderdeck live dashboard: plain ES2020 module, no dependencies.
//
// Data flow: one GraphQL query loads everything shown plus `lastEventId`; one websocket
// (graphql-transport-ws) then carries three subscriptions (orderEvents, stockLevels, syncProgress)
// from that id on. Events go into the feed and trigger (debounced) re-queries of what they change.
// Sync progress covers channels (DOWNLOAD, STOCK_PUSH, DISPATCH) and fulfilment centres (EXPORT,
// STATUS_IMPORT, STOCK_IMPORT), told apart by their kind and matched by `connectionId`.
// On reconnect each subscription resumes after the last event id it saw, so nothing is lost.

const API_PATH = "/graphql";
const TOKEN_KEY = "orderdeck.dashboard.token";
const RECENT_ORDERS = 20;
const FEED_LIMIT = 100;
const ORDER_STATUSES = ["UNPAID", "PAID", "PENDING", "RETURN", "RESEND"];
const ERROR_ORDERS = 50;
const SYNC_KINDS = ["DOWNLOAD", "STOCK_PUSH", "DISPATCH"];
const FULFILMENT_KINDS = ["EXPORT", "STATUS_IMPORT", "STOCK_IMPORT"];
const SYNC_KIND_LABEL = {
  DOWNLOAD: "Download", STOCK_PUSH: "Stock push", DISPATCH: "Dispatch",
  EXPORT: "Export", STATUS_IMPORT: "Status import", STOCK_IMPORT: "Stock import",
};

// ---------------------------------------------------------------------------------------------
// GraphQL documents

const ORDER_FIELDS = `
  id number reference source subsource status allocation receivedAt parked locked onHold fulfilmentState
  location { id name }
  totals { total currency }`;

const RUN_FIELDS = `
  id kind outcome startedAt finishedAt pages downloaded updated pushed dispatched exported imported failed retrying
  waiting abandoned error issues(limit: 5) { reference kind message }`;

const CHANNEL_FIELDS = `id name source enabled
  attention { listingsWaiting listingsRetrying dispatchesWaiting dispatchesRetrying needsAttention }
  runs(limit: 20) { ${RUN_FIELDS} }`;

const CENTRE_FIELDS = `id name connector enabled
  locations { id name }
  runs(limit: 20) { ${RUN_FIELDS} }`;

const ERROR_ORDER_FIELDS = `
  id number reference source fulfilmentState fulfilmentMessage labelError exportedAt
  location { id name fulfilmentConnectionId }`;

const LOW_STOCK_FIELDS = `
  id sku title
  levels { location { id name } level allocated available minimumLevel belowMinimum }`;

const ORDERS_QUERY = `
  openOrderCounts { location { id name } status count }
  openOrders(first: ${RECENT_ORDERS}, sort: NUMBER_DESC) { totalCount nodes { ${ORDER_FIELDS} } }`;

// Two lists (a filter ANDs its fields): orders the centre reported in error, and orders whose export failed.
const ORDER_ERRORS_QUERY = `
  fulfilmentErrors: orders(filter: { state: OPEN, fulfilmentState: ERROR }, first: ${ERROR_ORDERS}, sort: NUMBER_DESC) {
    totalCount nodes { ${ERROR_ORDER_FIELDS} }
  }
  labelErrors: orders(filter: { state: OPEN, labelError: true }, first: ${ERROR_ORDERS}, sort: NUMBER_DESC) {
    totalCount nodes { ${ERROR_ORDER_FIELDS} }
  }`;

const LOW_STOCK_QUERY = `
  stockItems(filter: { belowMinimum: true }, first: 100) { totalCount nodes { ${LOW_STOCK_FIELDS} } }`;

const Q_SIGN_IN = `query SignIn { me { name role } }`;

const Q_DASHBOARD = `query Dashboard {
  lastEventId
  me { name role }
  locations { id name isDefault }
  ${ORDERS_QUERY}
  channels { ${CHANNEL_FIELDS} }
  fulfilmentConnections { ${CENTRE_FIELDS} }
  ${ORDER_ERRORS_QUERY}
  ${LOW_STOCK_QUERY}
}`;

const Q_ORDERS = `query OpenOrders { lastEventId locations { id name isDefault } ${ORDERS_QUERY} }`;
const Q_LOW_STOCK = `query LowStock { ${LOW_STOCK_QUERY} }`;
const Q_CHANNEL = `query Channel($id: ID!) { channel(id: $id) { ${CHANNEL_FIELDS} } }`;
const Q_CHANNELS = `query Channels { channels { ${CHANNEL_FIELDS} } }`;
const Q_CENTRE = `query Centre($id: ID!) { fulfilmentConnection(id: $id) { ${CENTRE_FIELDS} } }`;
const Q_CENTRES = `query Centres { fulfilmentConnections { ${CENTRE_FIELDS} } }`;
const Q_ORDER_ERRORS = `query OrderErrors { ${ORDER_ERRORS_QUERY} }`;

const M_PROCESS = `mutation Process($orderId: ID!) {
  processOrder(input: { orderId: $orderId }) {
    orders { id number reference state }
    failures { orderId number message code }
    errors { message code field }
  }
}`;

const MISSED_FIELDS = `... on EventsMissed { fromId toId reason }`;

const S_ORDERS = `subscription OrderEvents($after: EventId) {
  orderEvents(after: $after) {
    __typename
    ... on OrderEvent {
      eventId at kind changes orderId number reference source state status
      locationId previousLocationId channelId actor
    }
    ${MISSED_FIELDS}
  }
}`;

const S_STOCK = `subscription StockLevels($after: EventId) {
  stockLevels(after: $after) {
    __typename
    ... on StockLevelEvent {
      eventId at itemId sku locationId level allocated available minimumLevel belowMinimum
    }
    ${MISSED_FIELDS}
  }
}`;

const S_SYNC = `subscription SyncProgress($after: EventId) {
  syncProgress(after: $after) {
    __typename
    ... on SyncProgressEvent {
      eventId at phase runId connectionId channelId kind outcome pages orders pushed dispatched exported imported
      failed retrying waiting abandoned error
    }
    ${MISSED_FIELDS}
  }
}`;

// ---------------------------------------------------------------------------------------------
// Small helpers

const $ = (id) => document.getElementById(id);

/** Build an element: h("td", {class: "num", dataset: {x: 1}}, "text", child). Text is never parsed as HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const numberFormat = new Intl.NumberFormat();
const fmtNumber = (n) => numberFormat.format(n);

function fmtMoney(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${amount} ${currency}`;
  }
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** A <time> element: the time of day if today, else date and time; the full date as a tooltip. */
function timeEl(iso) {
  if (!iso) return h("span", { class: "muted" }, "–");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", {}, iso);
  const text = sameDay(date, new Date())
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : date.toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  return h("time", { datetime: iso, title: date.toLocaleString() }, text);
}

const SOURCE_NAMES = {
  WOOCOMMERCE: "WooCommerce", EBAY: "eBay", AMAZON: "Amazon", MAGENTO: "Magento", SHOPIFY: "Shopify",
  DIRECT: "Direct", MANUAL: "Manual", CSV: "CSV import",
};

const titleCase = (s) => (s ? s.charAt(0) + s.slice(1).toLowerCase().replace(/_/g, " ") : "");

const sourceName = (s) => SOURCE_NAMES[s] || titleCase(s);

function badge(text, tone) {
  return h("span", { class: `badge ${tone || ""}`.trim() }, text);
}

const HELD_BY = {
  EXPORTED: "With its fulfilment centre",
  ERROR: "Centre reported an error",
  BY_CHANNEL: "Fulfilled by the channel",
};
const STATUS_TONE = { PAID: "ok", UNPAID: "warn", PENDING: "info", RETURN: "bad", RESEND: "info" };
const ALLOCATION_TONE = { FULL: "ok", PARTIAL: "warn", INSUFFICIENT: "bad", NOT_ALLOCATED: "muted" };
const OUTCOME_TONE = { SUCCEEDED: "ok", PARTIAL: "warn", FAILED: "bad", RUNNING: "info" };
const ORDER_EVENT_TONE = {
  CREATED: "info", PROCESSED: "ok", DISPATCHED: "ok", DISPATCH_FAILED: "bad", CANCELLED: "bad",
  DELETED: "bad", RETURNED: "warn", RESENT: "warn", MOVED: "muted", UPDATED: "muted",
};

/**
 * Run `task` after `wait` ms of quiet (at the latest `maxWait` ms after the first request), never two
 * at once: a request made while it runs runs it once more afterwards. Returns a promise of the run.
 */
function coalesce(task, wait, maxWait = wait * 4, busyIds = []) {
  let timer = null;
  let firstAt = 0;
  let running = null;
  let again = false;
  let waiters = [];
  // aria-busy on the sections being reloaded (also tells tests the figures are settling).
  const busy = () => {
    const value = String(timer !== null || running !== null || again);
    for (const id of busyIds) $(id).setAttribute("aria-busy", value);
  };

  const fire = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    const settled = waiters;
    waiters = [];
    running = (async () => {
      try {
        await task();
      } catch (error) {
        if (error instanceof AuthError) {
          signOut(error.message);
          return;
        }
        state.refreshFailed = true;
        showBanner(`Could not update the dashboard: ${errorText(error)}`, refreshAll, "Retry", "refresh");
      }
    })();
    busy();
    await running;
    running = null;
    settled.forEach((resolve) => resolve());
    if (again) {
      again = false;
      schedule(0);
    }
    busy();
  };

  function schedule(delay = wait) {
    const now = Date.now();
    if (timer === null) firstAt = now;
    else clearTimeout(timer);
    const remaining = Math.max(0, firstAt + maxWait - now);
    timer = setTimeout(fire, Math.min(delay, remaining));
    busy();
    return new Promise((resolve) => waiters.push(resolve));
  }
  schedule.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    again = false;
    waiters.forEach((resolve) => resolve());
    waiters = [];
    busy();
  };
  return schedule;
}

// ---------------------------------------------------------------------------------------------
// GraphQL over HTTP

class AuthError extends Error {}
class ApiError extends Error {}

function errorText(error) {
  if (error instanceof AuthError || error instanceof ApiError) return error.message;
  return `Could not reach the server (${error && error.message ? error.message : error}).`;
}

async function gql(query, variables = {}, token = state.token) {
  const response = await fetch(API_PATH, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
    cache: "no-store",
  });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401) {
    throw new AuthError("That token was not accepted: it is unknown, revoked or mistyped.");
  }
  if (!body || (!body.data && !body.errors)) {
    throw new ApiError(`The server answered ${response.status} ${response.statusText || ""}`.trim() + ".");
  }
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join(" "));
  }
  return body.data;
}

// ---------------------------------------------------------------------------------------------
// graphql-transport-ws client (the protocol of the `graphql-ws` library)

const FATAL_CLOSE = new Set([4400, 4401, 4403, 4406, 4409, 4429]);

class LiveSocket {
  /**
   * @param {string} url websocket URL
   * @param {string} token API token sent in connection_init
   * @param {(state: object) => void} onState connection state changes
   */
  constructor(url, token, onState) {
    this.url = url;
    this.token = token;
    this.onState = onState;
    this.subscriptions = new Map(); // id -> {query, variables: () => object, onNext, onError}
    this.nextId = 1;
    this.ws = null;
    this.acked = false;
    this.attempt = 0;
    this.stopped = true;
    this.timers = {};
  }

  /** Add a subscription; it is (re)sent on every connection with fresh variables. */
  subscribe(query, variables, onNext, onError) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { query, variables, onNext, onError });
    if (this.acked) this.sendSubscribe(id);
    return id;
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  /** Close for good (sign-out, page hidden for long...). */
  stop(code = 1000, reason = "Closed by the dashboard") {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.acked = false;
    if (ws) {
      this.detach(ws);
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    }
    this.onState({ state: "closed", code, reason });
  }

  /** Reconnect now (after a fatal close, or when the browser comes back online). */
  reconnectNow() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN && !this.stopped) return;
    this.stopped = false;
    this.clearTimers();
    this.connect();
  }

  connect() {
    this.onState({ state: this.attempt === 0 ? "connecting" : "reconnecting", attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url, "graphql-transport-ws");
    } catch (error) {
      this.scheduleReconnect(1006, String(error.message || error));
      return;
    }
    this.ws = ws;
    this.acked = false;
    ws.onopen = () => {
      this.send({ type: "connection_init", payload: { token: this.token } });
      // The server must acknowledge promptly; if not, drop and retry.
      this.timers.ack = setTimeout(() => this.drop(4408, "No connection_ack from the server"), 10000);
    };
    ws.onmessage = (event) => this.receive(event);
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.closed(event.code, event.reason);
    };
    ws.onerror = () => {}; // a close event always follows; it carries the code
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  sendSubscribe(id) {
    const sub = this.subscriptions.get(id);
    this.send({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables() } });
  }

  receive(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      this.drop(4400, "Unreadable message from the server");
      return;
    }
    const sub = message.id !== undefined ? this.subscriptions.get(message.id) : undefined;
    switch (message.type) {
      case "connection_ack":
        clearTimeout(this.timers.ack);
        this.acked = true;
        this.attempt = 0;
        this.onState({ state: "live" });
        for (const id of this.subscriptions.keys()) this.sendSubscribe(id);
        this.keepAlive();
        break;
      case "next":
        if (sub) sub.onNext(message.payload || {});
        break;
      case "error":
        if (sub) sub.onError(message.payload || []);
        break;
      case "complete":
        // The server ended a stream that should not end: take it as an error.
        if (sub) sub.onError([{ message: "The server ended the subscription." }]);
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "pong":
        clearTimeout(this.timers.pong);
        break;
      default:
        break;
    }
  }

  /** Ping every 20 s; no pong within 10 s means the connection is dead. */
  keepAlive() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      if (!this.acked) return;
      this.send({ type: "ping" });
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.drop(4499, "No answer to ping"), 10000);
    }, 20000);
  }

  /** Abandon the current socket at once (its close handshake may hang) and carry on as if closed. */
  drop(code, reason) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.detach(ws);
    try {
      ws.close(code >= 4000 && code <= 4999 ? code : 4000, reason);
    } catch {
      /* already closing */
    }
    this.closed(code, reason);
  }

  detach(ws) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  closed(code, reason) {
    this.acked = false;
    this.clearTimers();
    if (this.stopped) return;
    if (FATAL_CLOSE.has(code)) {
      this.stopped = true;
      this.onState({ state: "closed", code, reason });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  scheduleReconnect(code, reason) {
    this.attempt += 1;
    const base = Math.min(30000, 500 * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.onState({ state: "reconnecting", code, reason, delay, attempt: this.attempt, at: Date.now() + delay });
    this.timers.reconnect = setTimeout(() => this.connect(), delay);
  }

  clearTimers() {
    clearTimeout(this.timers.ack);
    clearTimeout(this.timers.pong);
    clearTimeout(this.timers.reconnect);
    clearInterval(this.timers.ping);
    this.timers = {};
  }
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  token: null,
  viewer: null,
  socket: null,
  lastEventId: null, // highest event id seen (any stream)
  locations: new Map(), // id -> {id, name, isDefault}
  channels: new Map(), // id -> channel (with runs)
  liveRuns: new Map(), // runId -> progress event (a channel's run not yet re-queried)
  centres: new Map(), // id -> fulfilment connection (with locations and runs)
  liveCentreRuns: new Map(), // runId -> progress event (a fulfilment centre's run not yet re-queried)
  belowMinimum: new Set(), // "itemId|locationId" currently listed as below minimum
  feedIds: new Set(),
  orderRows: new Map(), // order id -> <tr>
  processing: new Set(), // order ids with a processOrder in flight
  refreshFailed: false, // a re-query failed: run them all again once the server is back
  outcomes: new Map(), // order id -> {text, tone}
  previousCounts: new Map(), // cell key -> count (to highlight changes)
  generation: 0, // bumps on sign-out: late answers of an old session are ignored
};

// ---------------------------------------------------------------------------------------------
// Rendering: open order counts

function renderCounts(counts, asOf) {
  const byCell = new Map();
  const locations = new Map(state.locations);
  for (const c of counts) {
    byCell.set(`${c.location.id}|${c.status}`, c.count);
    if (!locations.has(c.location.id)) locations.set(c.location.id, c.location);
  }
  const statuses = ORDER_STATUSES.slice();
  for (const c of counts) if (!statuses.includes(c.status)) statuses.push(c.status);
  const rows = [...locations.values()].sort(
    (a, b) => (b.isDefault ? 1 : 0) - (a.isDefault ? 1 : 0) || a.name.localeCompare(b.name),
  );

  $("counts-head").replaceChildren(
    h("th", { scope: "col" }, "Location"),
    ...statuses.map((s) => h("th", { scope: "col", class: "num" }, titleCase(s))),
    h("th", { scope: "col", class: "num" }, "Total"),
  );

  const statusTotals = new Map(statuses.map((s) => [s, 0]));
  let grand = 0;
  const changed = [];
  const cell = (key, count, attrs) => {
    const td = h("td", { class: `num${count === 0 ? " zero" : ""}`, ...attrs }, fmtNumber(count));
    const before = state.previousCounts.get(key);
    if (before !== undefined && before !== count) changed.push(td);
    state.previousCounts.set(key, count);
    return td;
  };

  const body = rows.map((loc) => {
    let rowTotal = 0;
    const cells = statuses.map((s) => {
      const count = byCell.get(`${loc.id}|${s}`) || 0;
      rowTotal += count;
      statusTotals.set(s, statusTotals.get(s) + count);
      return cell(`${loc.id}|${s}`, count, {
        "data-testid": "count-cell",
        "data-location-id": loc.id,
        "data-location": loc.name,
        "data-status": s,
      });
    });
    grand += rowTotal;
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, loc.name, loc.isDefault ? h("span", { class: "tag" }, "default") : null),
      cells,
      cell(`${loc.id}|total`, rowTotal, {
        class: "num total",
        "data-testid": "count-location-total",
        "data-location-id": loc.id,
        "data-location": loc.name,
      }),
    );
  });
  $("counts-body").replaceChildren(...body);
  $("counts-foot").replaceChildren(
    h(
      "tr",
      {},
      h("th", { scope: "row" }, "All locations"),
      statuses.map((s) =>
        cell(`all|${s}`, statusTotals.get(s), { "data-testid": "count-status-total", "data-status": s }),
      ),
      cell("all|total", grand, { "data-testid": "count-grand-total" }),
    ),
  );
  // The event id the figures reflect (the query's lastEventId): later events are not in them yet.
  $("counts-table").dataset.asOf = String(asOf);
  $("counts-as-of").textContent = `as of event #${asOf}`;
  const total = $("open-orders-total");
  const before = total.dataset.count;
  total.textContent = fmtNumber(grand);
  total.dataset.count = String(grand);
  if (before !== undefined && before !== String(grand)) changed.push(total);
  for (const el of changed) flash(el);
}

function flash(el) {
  el.classList.remove("changed");
  void el.offsetWidth; // restart the animation
  el.classList.add("changed");
}

// ---------------------------------------------------------------------------------------------
// Rendering: newest open orders

function renderOrders(connection) {
  const nodes = connection.nodes;
  const keep = new Set(nodes.map((o) => o.id));
  for (const id of [...state.orderRows.keys()]) {
    if (!keep.has(id)) {
      state.orderRows.delete(id);
      if (!state.processing.has(id)) state.outcomes.delete(id);
    }
  }
  const rows = nodes.map((order) => {
    let tr = state.orderRows.get(order.id);
    if (!tr) {
      tr = h("tr", { "data-testid": "order-row" });
      state.orderRows.set(order.id, tr);
    }
    fillOrderRow(tr, order);
    return tr;
  });
  // Move rows only where needed (a focused Process button keeps its focus).
  const tbody = $("orders-body");
  let cursor = tbody.firstChild;
  for (const tr of rows) {
    if (tr === cursor) cursor = cursor.nextSibling;
    else tbody.insertBefore(tr, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    cursor.remove();
    cursor = next;
  }
  $("orders-empty").hidden = nodes.length > 0;
  $("orders-summary").textContent =
    connection.totalCount > nodes.length
      ? `The newest ${nodes.length} of ${fmtNumber(connection.totalCount)}`
      : `${fmtNumber(connection.totalCount)} in all`;
}

function fillOrderRow(tr, order) {
  Object.assign(tr.dataset, {
    orderId: order.id,
    number: String(order.number),
    reference: order.reference || "",
    status: order.status,
    allocation: order.allocation,
    fulfilmentState: order.fulfilmentState || "",
  });
  const held = HELD_BY[order.fulfilmentState]; // a centre or the channel ships it: not processed by hand
  const busy = state.processing.has(order.id);
  const outcome = state.outcomes.get(order.id);
  const label = `order ${order.number}${order.reference ? ` (${order.reference})` : ""}`;
  const button = held ? h("span", { class: "sub", "data-testid": "order-held" }, held) : h(
    "button",
    {
      type: "button",
      class: "button small",
      "data-testid": "process-order",
      "aria-label": `Process ${label}`,
      "aria-disabled": busy ? "true" : null, // not `disabled`: the button keeps keyboard focus
      onclick: () => processOrder(order),
    },
    busy ? "Processing…" : "Process",
  );
  const focused = tr.contains(document.activeElement) && document.activeElement.tagName === "BUTTON";
  tr.replaceChildren(
    h(
      "td",
      {},
      h("strong", { class: "order-number" }, `#${order.number}`),
      h("span", { class: "sub mono" }, order.reference || "no reference"),
    ),
    h(
      "td",
      { title: sourceName(order.source) },
      order.subsource || sourceName(order.source),
      order.subsource ? h("span", { class: "sub" }, sourceName(order.source)) : null,
    ),
    h(
      "td",
      { class: "badges" },
      badge(titleCase(order.status), STATUS_TONE[order.status]),
      badge(`Stock: ${titleCase(order.allocation).toLowerCase()}`, ALLOCATION_TONE[order.allocation]),
      order.parked ? badge("Parked", "warn") : null,
      order.onHold ? badge("On hold", "warn") : null,
      order.locked ? badge("Locked", "bad") : null,
    ),
    h("td", {}, order.location.name),
    h("td", {}, timeEl(order.receivedAt)),
    h("td", { class: "num" }, fmtMoney(order.totals.total, order.totals.currency)),
    h(
      "td",
      { class: "actions" },
      button,
      outcome
        ? h("span", { class: `row-outcome ${outcome.tone}`, "data-testid": "order-outcome", role: "status" }, outcome.text)
        : null,
    ),
  );
  if (focused && !held) button.focus();
}

async function processOrder(order) {
  if (state.processing.has(order.id)) return;
  const generation = state.generation;
  const label = `Order #${order.number}${order.reference ? ` (${order.reference})` : ""}`;
  state.processing.add(order.id);
  state.outcomes.delete(order.id);
  refreshOrderRow(order);
  let outcome;
  try {
    const { processOrder: payload } = await gql(M_PROCESS, { orderId: order.id });
    if (payload.errors.length) {
      outcome = { tone: "bad", text: payload.errors.map((e) => e.message).join(" ") };
    } else if (payload.failures.length) {
      outcome = { tone: "bad", text: payload.failures.map((f) => f.message).join(" ") };
    } else {
      outcome = { tone: "ok", text: "Processed" };
    }
  } catch (error) {
    if (error instanceof AuthError) return signOut(error.message);
    outcome = { tone: "bad", text: errorText(error) };
  } finally {
    state.processing.delete(order.id);
  }
  if (generation !== state.generation) return;
  state.outcomes.set(order.id, outcome);
  const summary = $("process-outcome");
  summary.className = `outcome ${outcome.tone}`;
  summary.dataset.orderId = order.id;
  summary.dataset.result = outcome.tone === "ok" ? "processed" : "refused";
  summary.textContent = outcome.tone === "ok" ? `${label} processed.` : `${label} was not processed: ${outcome.text}`;
  refreshOrderRow(order);
  refreshOrders(); // also without the websocket (and a refusal may mean the list is out of date)
}

function refreshOrderRow(order) {
  const tr = state.orderRows.get(order.id);
  if (tr) fillOrderRow(tr, order);
}

// ---------------------------------------------------------------------------------------------
// Rendering: stock below minimum

function renderLowStock(connection) {
  state.belowMinimum.clear();
  const rows = [];
  for (const item of connection.nodes) {
    for (const level of item.levels) {
      if (!level.belowMinimum) continue;
      state.belowMinimum.add(`${item.id}|${level.location.id}`);
      rows.push(
        h(
          "tr",
          { "data-testid": "low-stock-row", "data-item-id": item.id, "data-location-id": level.location.id, "data-sku": item.sku },
          h("td", { class: "mono" }, item.sku),
          h("td", {}, item.title),
          h("td", {}, level.location.name),
          h("td", { class: "num", "data-field": "level" }, fmtNumber(level.level)),
          h("td", { class: "num", "data-field": "allocated" }, fmtNumber(level.allocated)),
          h("td", { class: "num strong bad-text", "data-field": "available" }, fmtNumber(level.available)),
          h("td", { class: "num", "data-field": "minimumLevel" }, fmtNumber(level.minimumLevel)),
        ),
      );
    }
  }
  $("low-body").replaceChildren(...rows);
  $("low-empty").hidden = rows.length > 0;
  $("low-summary").textContent = rows.length ? `${rows.length} level${rows.length === 1 ? "" : "s"}` : "";
}

/** A stock event for a level already listed: show its new figures at once. */
function patchLowStock(event) {
  const tr = document.querySelector(
    `#low-body tr[data-item-id="${CSS.escape(event.itemId)}"][data-location-id="${CSS.escape(event.locationId)}"]`,
  );
  if (!tr) return;
  for (const field of ["level", "allocated", "available", "minimumLevel"]) {
    const td = tr.querySelector(`[data-field="${field}"]`);
    const text = fmtNumber(event[field]);
    if (td && td.textContent !== text) {
      td.textContent = text;
      flash(td);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering: channels

/** A connection's (channel's or fulfilment centre's) newest run of each kind: queried, or from `liveRuns`. */
function latestRuns(connection, liveRuns) {
  const latest = {};
  for (const run of connection.runs) {
    const known = latest[run.kind];
    if (!known || Date.parse(run.startedAt) > Date.parse(known.startedAt)) latest[run.kind] = run;
  }
  // A run in progress (from syncProgress) is newer than anything queried.
  for (const live of liveRuns.values()) {
    if (live.connectionId !== connection.id) continue;
    const known = latest[live.kind];
    if (!known || known.id === live.runId || Date.parse(live.at) > Date.parse(known.startedAt)) {
      latest[live.kind] = {
        id: live.runId,
        kind: live.kind,
        outcome: live.outcome,
        startedAt: known && known.id === live.runId ? known.startedAt : live.at,
        finishedAt: null,
        pages: live.pages,
        downloaded: live.orders,
        updated: 0,
        pushed: live.pushed,
        dispatched: live.dispatched,
        exported: live.exported,
        imported: live.imported,
        failed: live.failed,
        retrying: live.retrying,
        waiting: live.waiting,
        abandoned: live.abandoned,
        error: live.error,
        issues: [],
        live: true,
      };
    }
  }
  return latest;
}

function runCounts(run) {
  const parts = [];
  if (run.kind === "DOWNLOAD") {
    parts.push(`${fmtNumber(run.downloaded)} ${run.live ? "orders" : "new"}`);
    if (run.updated) parts.push(`${fmtNumber(run.updated)} updated`);
    if (run.pages) parts.push(`${fmtNumber(run.pages)} page${run.pages === 1 ? "" : "s"}`);
  }
  if (run.kind === "STOCK_PUSH") parts.push(`${fmtNumber(run.pushed)} pushed`);
  if (run.kind === "DISPATCH") parts.push(`${fmtNumber(run.dispatched)} dispatched`);
  if (run.kind === "EXPORT") parts.push(`${fmtNumber(run.exported)} exported`);
  if (run.kind === "STATUS_IMPORT") parts.push(`${fmtNumber(run.imported)} imported`);
  if (run.kind === "STOCK_IMPORT") parts.push(`${fmtNumber(run.imported)} imported`);
  if (run.failed) parts.push(`${fmtNumber(run.failed)} failed`);
  if (run.retrying) parts.push(`${fmtNumber(run.retrying)} to retry`);
  if (run.waiting) parts.push(`${fmtNumber(run.waiting)} waiting for a change`);
  if (run.abandoned) parts.push("abandoned: its worker died");
  return parts.join(" · ");
}

/** What of a channel's outbound work failed: what waits for the seller (a change or a retry) and what
 * goes again by itself. */
function attentionLine(channel) {
  const a = channel.attention;
  if (!a) return null;
  const plural = (n, one) => `${fmtNumber(n)} ${one}${n === 1 ? "" : "s"}`;
  const waiting = [];
  if (a.listingsWaiting) waiting.push(plural(a.listingsWaiting, "listing"));
  if (a.dispatchesWaiting) waiting.push(plural(a.dispatchesWaiting, "dispatch note"));
  const retrying = a.listingsRetrying + a.dispatchesRetrying;
  if (!waiting.length && !retrying) return null;
  return h(
    "p",
    { class: "attention", "data-testid": "channel-attention", "data-needs-attention": String(a.needsAttention) },
    waiting.length
      ? `${waiting.join(" and ")} refused (credentials or data): they wait for a change or a retry. `
      : null,
    retrying ? `${plural(retrying, "item")} to send again by itself (the channel was unreachable).` : null,
  );
}

/** The newest run of each of `kinds` as a definition list; each entry is a `testid` element with
 * data-kind, data-outcome and the run's counts. */
function runList(latest, kinds, testid) {
  return h(
    "dl",
    { class: "runs" },
    kinds.map((kind) => {
      const run = latest[kind];
      return [
        h("dt", {}, SYNC_KIND_LABEL[kind]),
        h(
          "dd",
          {
            "data-testid": testid,
            "data-kind": kind,
            "data-outcome": run ? run.outcome : "NONE",
            "data-run-id": run ? run.id : null,
            "data-live": run && run.live ? "true" : null,
          },
          run
            ? [
                h(
                  "div",
                  { class: "run-line" },
                  badge(titleCase(run.outcome), OUTCOME_TONE[run.outcome]),
                  h("span", { class: "run-time" }, timeEl(run.startedAt), run.finishedAt ? [" → ", timeEl(run.finishedAt)] : null),
                  h("span", { class: "run-counts", "data-testid": "run-counts" }, runCounts(run)),
                ),
                run.error ? h("p", { class: "run-error", "data-testid": "run-error" }, run.error) : null,
                run.issues && run.issues.length
                  ? h(
                      "ul",
                      { class: "issues" },
                      run.issues.map((issue) =>
                        h(
                          "li",
                          { "data-testid": "run-issue" },
                          h("span", { class: "mono" }, issue.reference),
                          ` ${titleCase(issue.kind)}: ${issue.message}`,
                        ),
                      ),
                    )
                  : null,
              ]
            : h("span", { class: "muted" }, "No run yet"),
        ),
      ];
    }),
  );
}

function renderChannels() {
  const channels = [...state.channels.values()].sort((a, b) => a.name.localeCompare(b.name));
  $("channels-empty").hidden = channels.length > 0;
  $("channels").replaceChildren(
    ...channels.map((channel) =>
      h(
        "article",
        { class: "channel", "data-testid": "channel", "data-channel-id": channel.id, "aria-label": channel.name },
        h(
          "header",
          { class: "channel-head" },
          h("h3", {}, channel.name),
          h("span", { class: "sub" }, sourceName(channel.source)),
          channel.enabled ? null : badge("Disabled", "muted"),
          channel.attention && channel.attention.needsAttention ? badge("Needs attention", "bad") : null,
        ),
        attentionLine(channel),
        runList(latestRuns(channel, state.liveRuns), SYNC_KINDS, "channel-run"),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Rendering: fulfilment centres

const CONNECTOR_NAMES = { ftp_warehouse: "FTP warehouse", url_dropship: "URL drop shipper" };

const connectorName = (c) => CONNECTOR_NAMES[c] || c;

function centreName(id) {
  const centre = id && state.centres.get(id);
  return centre ? centre.name : null;
}

function renderCentres() {
  const centres = [...state.centres.values()].sort((a, b) => a.name.localeCompare(b.name));
  $("centres-empty").hidden = centres.length > 0;
  $("centres").replaceChildren(
    ...centres.map((centre) =>
      h(
        "article",
        {
          class: "channel centre",
          "data-testid": "centre",
          "data-centre-id": centre.id,
          "data-enabled": String(centre.enabled),
          "aria-label": centre.name,
        },
        h(
          "header",
          { class: "channel-head" },
          h("h3", {}, centre.name),
          h("span", { class: "sub", "data-testid": "centre-connector", title: centre.connector }, connectorName(centre.connector)),
          centre.enabled ? badge("Enabled", "ok") : badge("Disabled", "muted"),
        ),
        h(
          "p",
          { class: "centre-locations small", "data-testid": "centre-locations" },
          centre.locations.length
            ? ["Serves ", centre.locations.map((l, i) => [i ? ", " : "", h("strong", {}, l.name)])]
            : h("span", { class: "muted" }, "Serves no location yet"),
        ),
        runList(latestRuns(centre, state.liveCentreRuns), FULFILMENT_KINDS, "centre-run"),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Rendering: orders in error at the fulfilment centres

const PROBLEM = {
  FULFILMENT_ERROR: { label: "Centre error", tone: "bad" },
  LABEL_ERROR: { label: "Export failed", tone: "warn" },
};

/** Both lists as one, newest first: the count is both totals less the orders in both. */
function renderOrderErrors({ fulfilmentErrors, labelErrors }) {
  const rows = new Map();
  for (const order of fulfilmentErrors.nodes) {
    rows.set(order.id, { order, problem: "FULFILMENT_ERROR", message: order.fulfilmentMessage });
  }
  let both = 0;
  for (const order of labelErrors.nodes) {
    if (rows.has(order.id)) both += 1;
    else rows.set(order.id, { order, problem: "LABEL_ERROR", message: order.labelError });
  }
  const total = fulfilmentErrors.totalCount + labelErrors.totalCount - both;
  const listed = [...rows.values()].sort((a, b) => b.order.number - a.order.number);

  $("order-errors-body").replaceChildren(
    ...listed.map(({ order, problem, message }) => {
      const centre = centreName(order.location.fulfilmentConnectionId);
      return h(
        "tr",
        {
          "data-testid": "order-error-row",
          "data-order-id": order.id,
          "data-number": String(order.number),
          "data-problem": problem,
        },
        h(
          "td",
          {},
          h("strong", { class: "order-number" }, `#${order.number}`),
          h("span", { class: "sub mono" }, order.reference || "no reference"),
        ),
        h("td", {}, order.location.name, centre ? h("span", { class: "sub" }, centre) : null),
        h(
          "td",
          { class: "problem" },
          badge(PROBLEM[problem].label, PROBLEM[problem].tone),
          " ",
          h("span", { "data-testid": "order-error-message" }, message || "no message"),
        ),
        h("td", {}, timeEl(order.exportedAt)),
      );
    }),
  );
  const count = $("order-errors-total");
  const before = count.dataset.count;
  count.textContent = fmtNumber(total);
  count.dataset.count = String(total);
  if (before !== undefined && before !== String(total)) flash(count);
  $("order-errors-card").dataset.state = total ? "errors" : "clear";
  $("order-errors-empty").hidden = total > 0;
  $("order-errors-summary").textContent =
    total > listed.length ? `The newest ${listed.length} of ${fmtNumber(total)}` : "";
}

// ---------------------------------------------------------------------------------------------
// Live feed

const feedState = { kinds: new Set(["order", "stock", "sync"]) };

function locationName(id) {
  const loc = state.locations.get(id);
  return loc ? loc.name : "another location";
}

function channelName(id) {
  const channel = id && state.channels.get(id);
  return channel ? channel.name : null;
}

function describeOrder(e) {
  const who = `#${e.number}${e.reference ? ` ${e.reference}` : ""}`;
  const from = channelName(e.channelId) || sourceName(e.source);
  const verbs = {
    CREATED: `new from ${from}, ${titleCase(e.status).toLowerCase()}, at ${locationName(e.locationId)}`,
    UPDATED: `updated (${e.changes.map((c) => titleCase(c).toLowerCase()).join(", ") || "details"})`,
    MOVED: `moved from ${locationName(e.previousLocationId)} to ${locationName(e.locationId)}`,
    PROCESSED: `processed at ${locationName(e.locationId)}`,
    DISPATCHED: `dispatch sent to ${from}`,
    DISPATCH_FAILED: `dispatch to ${from} failed`,
    CANCELLED: "cancelled",
    DELETED: "deleted",
    RETURNED: "return recorded",
    RESENT: "resend created",
  };
  return `Order ${who} ${verbs[e.kind] || titleCase(e.kind).toLowerCase()} · by ${e.actor}`;
}

function describeStock(e) {
  const text = `${e.sku} at ${locationName(e.locationId)}: level ${e.level}, allocated ${e.allocated}, available ${e.available}`;
  return e.belowMinimum ? `${text} (below minimum ${e.minimumLevel})` : text;
}

function describeSync(e) {
  const channel = isFulfilment(e)
    ? centreName(e.connectionId) || "A fulfilment centre"
    : channelName(e.connectionId) || "A channel";
  const kind = SYNC_KIND_LABEL[e.kind].toLowerCase();
  const counts = [];
  if (e.kind === "DOWNLOAD") counts.push(`${e.orders} order${e.orders === 1 ? "" : "s"}`, `${e.pages} page${e.pages === 1 ? "" : "s"}`);
  if (e.kind === "STOCK_PUSH") counts.push(`${e.pushed} pushed`);
  if (e.kind === "DISPATCH") counts.push(`${e.dispatched} dispatched`);
  if (e.kind === "EXPORT") counts.push(`${e.exported} exported`);
  if (e.kind === "STATUS_IMPORT" || e.kind === "STOCK_IMPORT") counts.push(`${e.imported} imported`);
  if (e.failed) counts.push(`${e.failed} failed`);
  if (e.retrying) counts.push(`${e.retrying} to retry`);
  if (e.waiting) counts.push(`${e.waiting} waiting for a change`);
  if (e.phase === "STARTED") return `${channel}: ${kind} started`;
  if (e.phase === "PROGRESS") return `${channel}: ${kind} running, ${counts.join(", ")}`;
  const end = `${channel}: ${kind} ${titleCase(e.outcome).toLowerCase()}, ${counts.join(", ")}`;
  return e.error ? `${end}: ${e.error}` : end;
}

function addFeedRow({ id, at, kind, label, tone, text, data }) {
  if (id !== null && state.feedIds.has(id)) return false;
  if (id !== null) state.feedIds.add(id);
  const tr = h(
    "tr",
    {
      "data-testid": "feed-row",
      "data-kind": kind,
      "data-event-id": id === null ? null : String(id),
      class: `feed-row kind-${kind} new`,
      hidden: kind !== "missed" && !feedState.kinds.has(kind),
    },
    h(
      "td",
      { class: "when" },
      at ? timeEl(at) : timeEl(new Date().toISOString()),
      h("span", { class: "event-id mono" }, id === null ? "" : `#${id}`),
    ),
    h("td", { class: "what" }, badge(label, tone), " ", text),
  );
  Object.assign(tr.dataset, data || {});
  const body = $("feed-body");
  body.prepend(tr);
  while (body.children.length > FEED_LIMIT) {
    const last = body.lastElementChild;
    if (last.dataset.eventId) state.feedIds.delete(Number(last.dataset.eventId));
    last.remove();
  }
  $("feed-empty").hidden = true;
  return true;
}

function noteEventId(id) {
  if (typeof id !== "number") return;
  if (state.lastEventId === null || id > state.lastEventId) {
    state.lastEventId = id;
    $("last-event-id").textContent = `#${id}`;
    $("last-event-id").dataset.eventId = String(id);
  }
}

// ---------------------------------------------------------------------------------------------
// Re-queries (coalesced)

const refreshOrders = coalesce(async () => {
  const generation = state.generation;
  const data = await gql(Q_ORDERS);
  if (generation !== state.generation) return;
  setLocations(data.locations);
  renderCounts(data.openOrderCounts, data.lastEventId);
  renderOrders(data.openOrders);
}, 250, 1000, ["counts-card", "orders-card"]);

const refreshLowStock = coalesce(async () => {
  const generation = state.generation;
  const data = await gql(Q_LOW_STOCK);
  if (generation !== state.generation) return;
  renderLowStock(data.stockItems);
}, 400, 2000, ["low-card"]);

const channelsToRefresh = new Set();
const refreshChannels = coalesce(async () => {
  const generation = state.generation;
  const ids = [...channelsToRefresh];
  channelsToRefresh.clear();
  if (!ids.length) {
    const data = await gql(Q_CHANNELS);
    if (generation !== state.generation) return;
    state.channels = new Map(data.channels.map((c) => [c.id, c]));
    state.liveRuns.clear();
  } else {
    const answers = await Promise.all(ids.map((id) => gql(Q_CHANNEL, { id })));
    if (generation !== state.generation) return;
    answers.forEach(({ channel }, i) => {
      if (channel) state.channels.set(channel.id, channel);
      else state.channels.delete(ids[i]);
    });
  }
  // Runs now known from the query need no live stand-in.
  for (const [runId, live] of state.liveRuns) {
    const channel = state.channels.get(live.connectionId);
    if (!channel || channel.runs.some((r) => r.id === runId && r.outcome !== "RUNNING")) state.liveRuns.delete(runId);
  }
  renderChannels();
}, 300, 1500, ["channels-card"]);

const centresToRefresh = new Set();
const refreshCentres = coalesce(async () => {
  const generation = state.generation;
  const ids = [...centresToRefresh];
  centresToRefresh.clear();
  if (!ids.length) {
    const data = await gql(Q_CENTRES);
    if (generation !== state.generation) return;
    state.centres = new Map(data.fulfilmentConnections.map((c) => [c.id, c]));
    state.liveCentreRuns.clear();
  } else {
    const answers = await Promise.all(ids.map((id) => gql(Q_CENTRE, { id })));
    if (generation !== state.generation) return;
    answers.forEach(({ fulfilmentConnection: centre }, i) => {
      if (centre) state.centres.set(centre.id, centre);
      else state.centres.delete(ids[i]);
    });
  }
  for (const [runId, live] of state.liveCentreRuns) {
    const centre = state.centres.get(live.connectionId);
    if (!centre || centre.runs.some((r) => r.id === runId && r.outcome !== "RUNNING")) state.liveCentreRuns.delete(runId);
  }
  renderCentres();
}, 300, 1500, ["centres-card"]);

const refreshOrderErrors = coalesce(async () => {
  const generation = state.generation;
  const data = await gql(Q_ORDER_ERRORS);
  if (generation !== state.generation) return;
  renderOrderErrors(data);
}, 300, 1500, ["order-errors-card"]);

function refreshAll() {
  state.refreshFailed = false;
  refreshOrders();
  refreshOrderErrors();
  refreshLowStock();
  refreshChannels();
  refreshCentres();
}

function setLocations(locations) {
  state.locations = new Map(locations.map((l) => [l.id, l]));
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

function missedRow(message, stream) {
  const reason = message.reason === "EXPIRED" ? "no longer kept by the server" : "the dashboard fell behind";
  addFeedRow({
    id: null,
    at: null,
    kind: "missed",
    label: "Missed",
    tone: "warn",
    text: `${stream} events #${message.fromId}–#${message.toId} were not delivered (${reason}); reloaded what they change.`,
    data: { fromId: String(message.fromId), toId: String(message.toId), reason: message.reason },
  });
  noteEventId(message.toId);
}

/** Per-stream cursor: resume each subscription after the last event it delivered. */
function cursorFrom(start) {
  const cursor = { after: start };
  cursor.advance = (id) => {
    if (typeof id === "number" && (cursor.after === null || id > cursor.after)) cursor.after = id;
  };
  return cursor;
}

function subscriptionError(stream) {
  return (errors) => {
    const text = (Array.isArray(errors) ? errors : [errors]).map((e) => e.message).join(" ");
    // E.g. a resume point the server no longer knows (its database was reset): load afresh.
    showBanner(`Live ${stream} updates stopped: ${text}`, loadDashboard, "Reload", "subscription");
  };
}

/**
 * Follow one subscription from `after`: its own cursor (resumed on reconnect), each event to
 * `onEvent` and into the last-event figure, and on EventsMissed a feed row and `refresh()` of
 * what those events would have changed.
 */
function follow(socket, after, { query, field, stream, refresh, onEvent }) {
  const cursor = cursorFrom(after);
  const failed = subscriptionError(stream.toLowerCase());
  socket.subscribe(query, () => ({ after: cursor.after }), ({ data, errors }) => {
    if (errors && errors.length) return failed(errors);
    const m = data && data[field];
    if (!m) return;
    if (m.__typename === "EventsMissed") {
      cursor.advance(m.toId);
      missedRow(m, stream);
      refresh();
      return;
    }
    cursor.advance(m.eventId);
    noteEventId(m.eventId);
    onEvent(m);
  }, failed);
}

function startLive(after) {
  if (state.socket) state.socket.stop(1000, "Restarting");
  hideBanner();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${API_PATH}`;
  const socket = new LiveSocket(url, state.token, renderConnection);
  state.socket = socket;

  follow(socket, after, {
    query: S_ORDERS, field: "orderEvents", stream: "Order",
    refresh() {
      refreshOrders();
      refreshOrderErrors();
    },
    onEvent(m) {
      addFeedRow({
        id: m.eventId,
        at: m.at,
        kind: "order",
        label: `Order ${titleCase(m.kind).toLowerCase()}`,
        tone: ORDER_EVENT_TONE[m.kind],
        text: describeOrder(m),
        data: { event: m.kind, orderId: m.orderId, orderNumber: String(m.number), state: m.state },
      });
      refreshOrders();
      refreshOrderErrors(); // a centre's status, an export or a change by hand may put it in or out of error
    },
  });

  follow(socket, after, {
    query: S_STOCK, field: "stockLevels", stream: "Stock",
    refresh() {
      refreshLowStock();
      refreshOrders();
    },
    onEvent(m) {
      addFeedRow({
        id: m.eventId,
        at: m.at,
        kind: "stock",
        label: "Stock",
        tone: m.belowMinimum ? "warn" : "muted",
        text: describeStock(m),
        data: { event: "STOCK_LEVEL", sku: m.sku, belowMinimum: String(m.belowMinimum) },
      });
      const key = `${m.itemId}|${m.locationId}`;
      if (m.belowMinimum !== state.belowMinimum.has(key)) refreshLowStock();
      else if (m.belowMinimum) patchLowStock(m);
      refreshOrders(); // an order's stock cover may have changed
    },
  });

  follow(socket, after, {
    query: S_SYNC, field: "syncProgress", stream: "Sync",
    refresh() {
      refreshChannels();
      refreshCentres();
      refreshOrderErrors();
    },
    onEvent(m) {
      addFeedRow({
        id: m.eventId,
        at: m.at,
        kind: "sync",
        label: `${SYNC_KIND_LABEL[m.kind] || titleCase(m.kind)} ${m.phase.toLowerCase()}`,
        tone: m.phase === "FINISHED" ? OUTCOME_TONE[m.outcome] : "muted",
        text: describeSync(m),
        data: {
          event: `SYNC_${m.phase}`, runId: m.runId, connectionId: m.connectionId, channelId: m.channelId,
          syncKind: m.kind, outcome: m.outcome,
        },
      });
      if (isFulfilment(m)) followCentreRun(m);
      else followChannelRun(m);
    },
  });

  socket.start();
}

const isFulfilment = (event) => FULFILMENT_KINDS.includes(event.kind);

function followChannelRun(m) {
  if (!state.channels.has(m.connectionId)) {
    refreshChannels(); // a channel added since the page loaded
    return;
  }
  state.liveRuns.set(m.runId, m); // a finished run is shown until the re-query answers
  if (m.phase === "FINISHED") {
    channelsToRefresh.add(m.connectionId);
    refreshChannels();
  }
  renderChannels();
}

function followCentreRun(m) {
  // An export's failures are label errors; a status import may report orders in error.
  if (m.phase === "FINISHED" && m.kind !== "STOCK_IMPORT") refreshOrderErrors();
  if (!state.centres.has(m.connectionId)) {
    refreshCentres(); // a centre added since the page loaded
    return;
  }
  state.liveCentreRuns.set(m.runId, m);
  if (m.phase === "FINISHED") {
    centresToRefresh.add(m.connectionId);
    refreshCentres();
  }
  renderCentres();
}

// ---------------------------------------------------------------------------------------------
// Connection state

let countdown = null;
const ANNOUNCE = { connecting: "Connecting to live updates", live: "Live updates on", reconnecting: "Live updates interrupted, reconnecting", closed: "Live updates closed" };

function renderConnection(s) {
  const el = $("connection");
  const text = $("connection-text");
  clearInterval(countdown);
  if (el.dataset.state !== s.state) $("connection-announce").textContent = ANNOUNCE[s.state] || s.state;
  el.dataset.state = s.state;
  el.dataset.code = s.code !== undefined ? String(s.code) : "";
  $("reconnect").hidden = !(s.state === "closed" && state.token && s.code !== 1000);
  const why = s.code ? ` (${s.code}${s.reason ? ` ${s.reason}` : ""})` : "";
  switch (s.state) {
    case "connecting":
      text.textContent = "Connecting…";
      break;
    case "live":
      text.textContent = "Live";
      hideBanner("connection", "refresh");
      if (state.refreshFailed) refreshAll(); // what failed while the server was away
      break;
    case "reconnecting": {
      if (!s.at) {
        text.textContent = `Reconnecting… (attempt ${s.attempt})`;
        break;
      }
      const tick = () => {
        const left = Math.max(0, Math.ceil((s.at - Date.now()) / 1000));
        text.textContent = `Reconnecting in ${left} s${why}`;
      };
      tick();
      countdown = setInterval(tick, 1000);
      break;
    }
    case "closed":
      text.textContent = `Closed${why}`;
      if (s.code === 4403 || s.code === 4401) {
        showBanner(
          `The server refused the live connection${why}. Sign in again with a valid token.`,
          () => signOut(""),
          "Sign in again",
          "connection",
        );
      } else if (s.code !== 1000) {
        showBanner(`Live updates stopped${why}.`, () => state.socket && state.socket.reconnectNow(), "Reconnect", "connection");
      }
      break;
    default:
      text.textContent = s.state;
  }
}

// ---------------------------------------------------------------------------------------------
// Banner

let bannerAction = null;

/** One message at a time above the dashboard, with an optional action button. */
function showBanner(text, action, label = "Retry", kind = "error") {
  $("banner-text").textContent = text;
  bannerAction = action;
  $("banner-retry").textContent = label;
  $("banner-retry").hidden = !action;
  $("banner").dataset.kind = kind;
  $("banner").hidden = false;
}

/** Hide the banner (only if it is of one of these kinds, when given). */
function hideBanner(...kinds) {
  if (kinds.length && !kinds.includes($("banner").dataset.kind)) return;
  $("banner").hidden = true;
  bannerAction = null;
}

// ---------------------------------------------------------------------------------------------
// Session

async function loadDashboard() {
  const generation = state.generation;
  hideBanner();
  let data;
  try {
    data = await gql(Q_DASHBOARD);
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof AuthError) return signOut(error.message);
    showBanner(`The dashboard could not be loaded: ${errorText(error)}`, loadDashboard, "Retry", "load");
    return;
  }
  if (generation !== state.generation) return;
  state.viewer = data.me;
  $("viewer").textContent = `${data.me.name} · ${titleCase(data.me.role)}`;
  setLocations(data.locations);
  state.channels = new Map(data.channels.map((c) => [c.id, c]));
  state.centres = new Map(data.fulfilmentConnections.map((c) => [c.id, c]));
  renderCounts(data.openOrderCounts, data.lastEventId);
  renderOrders(data.openOrders);
  renderChannels();
  renderCentres();
  renderOrderErrors(data);
  renderLowStock(data.stockItems);
  noteEventId(data.lastEventId);
  startLive(data.lastEventId);
}

function showDashboard(signedIn) {
  $("signin").hidden = signedIn;
  $("dashboard").hidden = !signedIn;
  $("session").hidden = !signedIn;
}

function signIn(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  showDashboard(true);
  loadDashboard();
}

function signOut(message) {
  state.generation += 1;
  if (state.socket) state.socket.stop(1000, "Signed out");
  state.socket = null;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  for (const refresh of [refreshOrders, refreshOrderErrors, refreshLowStock, refreshChannels, refreshCentres]) {
    refresh.cancel();
  }
  Object.assign(state, {
    viewer: null,
    lastEventId: null,
    locations: new Map(),
    channels: new Map(),
    liveRuns: new Map(),
    centres: new Map(),
    liveCentreRuns: new Map(),
    belowMinimum: new Set(),
    feedIds: new Set(),
    orderRows: new Map(),
    processing: new Set(),
    outcomes: new Map(),
    previousCounts: new Map(),
  });
  for (const id of ["counts-head", "counts-body", "counts-foot", "orders-body", "order-errors-body", "low-body",
    "feed-body", "channels", "centres"]) {
    $(id).replaceChildren();
  }
  for (const id of ["open-orders-total", "order-errors-total"]) {
    $(id).textContent = "–";
    delete $(id).dataset.count;
  }
  $("counts-as-of").textContent = "";
  $("last-event-id").textContent = "–";
  delete $("last-event-id").dataset.eventId;
  $("process-outcome").textContent = "";
  $("feed-empty").hidden = false;
  hideBanner();
  showDashboard(false);
  const error = $("signin-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("token").value = "";
  $("token").focus();
}

async function onSignInSubmit(event) {
  event.preventDefault();
  const input = $("token");
  const button = $("signin-button");
  const error = $("signin-error");
  const token = input.value.trim();
  error.hidden = true;
  if (!token) {
    error.textContent = "Enter an API token.";
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  button.disabled = true;
  button.textContent = "Checking…";
  try {
    await gql(Q_SIGN_IN, {}, token);
    input.removeAttribute("aria-invalid");
    input.value = "";
    signIn(token);
  } catch (e) {
    error.textContent = errorText(e);
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.select();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

// ---------------------------------------------------------------------------------------------
// Start

function init() {
  $("signin-form").addEventListener("submit", onSignInSubmit);
  $("sign-out").addEventListener("click", () => signOut(""));
  $("reconnect").addEventListener("click", () => {
    if (!state.socket) return;
    hideBanner();
    state.socket.reconnectNow();
  });
  $("banner-retry").addEventListener("click", () => {
    const action = bannerAction;
    hideBanner();
    if (action) action();
  });
  for (const box of document.querySelectorAll('input[name="feed-kind"]')) {
    box.addEventListener("change", () => {
      if (box.checked) feedState.kinds.add(box.value);
      else feedState.kinds.delete(box.value);
      for (const tr of $("feed-body").children) {
        tr.hidden = tr.dataset.kind !== "missed" && !feedState.kinds.has(tr.dataset.kind);
      }
    });
  }
  window.addEventListener("online", () => {
    if (state.socket && !state.socket.stopped) state.socket.reconnectNow();
  });

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
  else {
    showDashboard(false);
    $("token").focus();
  }
}

init();
