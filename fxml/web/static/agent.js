// The FXML platform's pages reach the local card agent (憑證元件) through this module.
//
// A plain ES module, loaded from the platform's own origin (CSP script-src 'self'):
// it lives in fxml/web/static, which every app of the web stack serves at /static.
//
//   <meta name="fxml-agent" content="http://127.0.0.1:61081">
//   import { readers, openSession, renew, sign, events } from "/static/agent.js";
//   const stop = events((event) => { if (event.type === "card_inserted") ... });
//   const list = await readers();
//   const session = await openSession(list[0].name, pin);   // the PIN goes to the agent only
//   const job = await renew({ session: session.session, renewalId, renewalToken });
//
// Every function returns a promise; a refusal rejects with an AgentError whose
// code is stable and whose message is the zh-TW text to show. The paths below
// are fxml/agent/api.py's (tests/unit/test_agent_contract.py checks they agree).

export const API_VERSION = "v1";
export const DEFAULT_PORT = 61081;

export const PATHS = Object.freeze({
  STATUS: "/v1/status",
  READERS: "/v1/readers",
  SESSIONS: "/v1/sessions",
  SESSION: "/v1/sessions/{session}",
  RENEWALS: "/v1/renewals",
  RENEWAL: "/v1/renewals/{job}",
  SIGNATURES: "/v1/signatures",
  PIN_CHANGES: "/v1/pin-changes",
  EVENTS: "/v1/events",
});

export const EVENT_TYPES = Object.freeze([
  "hello",
  "reader_added",
  "reader_removed",
  "card_inserted",
  "card_removed",
  "session_closed",
  "renewal",
  "pcsc",
]);

// The codes this module raises itself (the agent sends every other one).
export const CLIENT_ERRORS = Object.freeze({
  AGENT_UNREACHABLE: "無法連線至本機的憑證元件，請確認憑證元件已啟動後再試。",
  AGENT_BAD_RESPONSE: "憑證元件的回應無法辨識。",
});

export class AgentError extends Error {
  constructor(code, message, status = 0, details = {}) {
    super(message);
    this.name = "AgentError";
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

// The agent's base URL: the page's <meta name="fxml-agent">, else the default port on 127.0.0.1.
export function agentUrl() {
  const meta = typeof document !== "undefined" ? document.querySelector('meta[name="fxml-agent"]') : null;
  const url = meta && meta.content ? meta.content : `http://127.0.0.1:${DEFAULT_PORT}`;
  return url.replace(/\/+$/, "");
}

function clientError(code, details = {}) {
  return new AgentError(code, CLIENT_ERRORS[code], 0, details);
}

// Data to sign as base64: a Uint8Array or ArrayBuffer as it is, a string as its UTF-8 bytes.
export function toBase64(data) {
  let bytes;
  if (typeof data === "string") {
    bytes = new TextEncoder().encode(data);
  } else if (data instanceof ArrayBuffer) {
    bytes = new Uint8Array(data);
  } else if (data instanceof Uint8Array) {
    bytes = data;
  } else {
    throw new TypeError("data must be a string, an ArrayBuffer or a Uint8Array");
  }
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fill(template, name, value) {
  return template.replace(`{${name}}`, encodeURIComponent(value));
}

// An agent at baseUrl: { status, readers, openSession, session, closeSession, renew, renewal, sign, changePin,
// events }.
export function createAgent(baseUrl = agentUrl()) {
  const base = baseUrl.replace(/\/+$/, "");

  async function call(method, path, body) {
    const init = { method, mode: "cors", credentials: "omit", cache: "no-store", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(base + path, init);
    } catch (error) {
      throw clientError("AGENT_UNREACHABLE", { url: base, reason: String(error) });
    }
    if (response.status === 204) {
      return null;
    }
    let data;
    try {
      data = await response.json();
    } catch (error) {
      throw clientError("AGENT_BAD_RESPONSE", { status: response.status });
    }
    if (!response.ok) {
      const error = data && data.error;
      if (!error || typeof error.code !== "string") {
        throw clientError("AGENT_BAD_RESPONSE", { status: response.status });
      }
      throw new AgentError(error.code, error.message, response.status, error.details || {});
    }
    return data;
  }

  return {
    baseUrl: base,
    status: () => call("GET", PATHS.STATUS),
    readers: async () => (await call("GET", PATHS.READERS)).readers,
    // reader: a name from readers(), or null when exactly one card is inserted.
    openSession: (reader, pin) => call("POST", PATHS.SESSIONS, reader ? { reader, pin } : { pin }),
    session: (session) => call("GET", fill(PATHS.SESSION, "session", session)),
    closeSession: (session) => call("DELETE", fill(PATHS.SESSION, "session", session)),
    renew: ({ session, renewalId, renewalToken, platformUrl }) => {
      const body = { session, renewal_id: renewalId, renewal_token: renewalToken };
      if (platformUrl) {
        body.platform_url = platformUrl;
      }
      return call("POST", PATHS.RENEWALS, body);
    },
    renewal: (job) => call("GET", fill(PATHS.RENEWAL, "job", job)),
    sign: (session, data, container) => {
      const body = { session, data: toBase64(data) };
      if (container) {
        body.container = container;
      }
      return call("POST", PATHS.SIGNATURES, body);
    },
    // 憑證載具密碼變更 on the card in reader (null: the only card); the PINs go to the agent only.
    changePin: (reader, oldPin, newPin) => {
      const body = { old_pin: oldPin, new_pin: newPin };
      if (reader) {
        body.reader = reader;
      }
      return call("POST", PATHS.PIN_CHANGES, body);
    },
    // Calls onEvent({type, data, id}) for every event; onError(AgentError) when the
    // agent cannot be reached (the browser keeps trying). Returns a function that stops.
    events: (onEvent, onError) => {
      const source = new EventSource(base + PATHS.EVENTS);
      for (const type of EVENT_TYPES) {
        source.addEventListener(type, (message) => {
          let data;
          try {
            data = JSON.parse(message.data);
          } catch (error) {
            if (onError) {
              onError(clientError("AGENT_BAD_RESPONSE"));
            }
            return;
          }
          onEvent({ type, data, id: message.lastEventId });
        });
      }
      source.onerror = () => {
        if (onError) {
          onError(clientError("AGENT_UNREACHABLE", { url: base }));
        }
      };
      return () => source.close();
    },
  };
}

let shared = null;
function agent() {
  if (shared === null) {
    shared = createAgent();
  }
  return shared;
}

export const status = () => agent().status();
export const readers = () => agent().readers();
export const openSession = (reader, pin) => agent().openSession(reader, pin);
export const closeSession = (session) => agent().closeSession(session);
export const renew = (options) => agent().renew(options);
export const renewal = (job) => agent().renewal(job);
export const sign = (session, data, container) => agent().sign(session, data, container);
export const changePin = (reader, oldPin, newPin) => agent().changePin(reader, oldPin, newPin);
export const events = (onEvent, onError) => agent().events(onEvent, onError);
