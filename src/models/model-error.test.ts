import { describe, expect, it } from "vitest";
import { fallsThrough, kindForStatus, marksUnhealthy, ModelError, parseRetryAfter } from "./model-error.js";

describe("model errors", () => {
  it("classifies HTTP statuses, reading context-length complaints out of 400 bodies", () => {
    expect(kindForStatus(401, "")).toBe("auth");
    expect(kindForStatus(403, "")).toBe("auth");
    expect(kindForStatus(404, "")).toBe("model_missing");
    expect(kindForStatus(429, "")).toBe("rate_limited");
    expect(kindForStatus(413, "")).toBe("context_too_long");
    expect(kindForStatus(400, "prompt is too long: 210000 tokens > 200000 maximum")).toBe("context_too_long");
    expect(kindForStatus(400, "This model's maximum context length is 8192 tokens")).toBe("context_too_long");
    expect(kindForStatus(400, "Invalid value for temperature")).toBe("bad_request");
    expect(kindForStatus(500, "")).toBe("server_error");
    expect(kindForStatus(529, "overloaded")).toBe("server_error");
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-11-25T10:00:00Z");
    expect(parseRetryAfter("2", now)).toBe(2000);
    expect(parseRetryAfter("0.5", now)).toBe(500);
    expect(parseRetryAfter("Wed, 25 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("says which kinds fall through and which cool a model down", () => {
    const error = (kind: ConstructorParameters<typeof ModelError>[0]) => new ModelError(kind, kind, { model: "m", provider: "openai" });
    expect(fallsThrough(error("server_error"))).toBe(true);
    expect(fallsThrough(error("context_too_long"))).toBe(true);
    expect(marksUnhealthy(error("context_too_long"))).toBe(false);
    expect(fallsThrough(error("bad_request"))).toBe(false);
    expect(fallsThrough(error("aborted"))).toBe(false);
    expect(fallsThrough(new Error("plain"))).toBe(false);
    expect(error("rate_limited").retryable).toBe(true);
    expect(error("auth").retryable).toBe(false);
    expect(error("auth").toJSON()).toMatchObject({ code: "model_error", kind: "auth", model: "m", provider: "openai" });
  });
});
