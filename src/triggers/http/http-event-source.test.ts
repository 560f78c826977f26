import { describe, expect, it } from "vitest";
import { LocalAgentError } from "../../errors/index.js";
import type { TriggerOutcome } from "../../scheduler/index.js";
import { describeTriggerSourceConformance } from "../trigger-source.conformance.js";
import { HttpEventSource } from "./http-event-source.js";

describeTriggerSourceConformance("HttpEventSource", () => {
  const source = new HttpEventSource();
  return { source, event: "deploy", provoke: () => void source.receive("deploy", { version: "1" }) };
});

describe("HttpEventSource", () => {
  it("fires all or nothing and hands back the outcome", () => {
    const source = new HttpEventSource();
    const calls: unknown[][] = [];
    source.start((event, payload, options) => {
      calls.push([event, payload, options]);
      return { event, runs: [{ workflow: "w", runId: "run_1" }], skipped: [], rejected: [] };
    });
    expect(source.receive("deploy", { version: "1" })).toEqual({
      event: "deploy",
      runs: [{ workflow: "w", runId: "run_1" }],
      skipped: [],
      rejected: [],
    });
    expect(calls).toEqual([["deploy", { version: "1" }, { atomic: true }]]);
  });

  it("turns refused payloads into a payload_invalid error carrying each workflow's ajv errors", () => {
    const source = new HttpEventSource();
    const rejected: TriggerOutcome["rejected"] = [
      {
        workflow: "release",
        errors: [
          {
            instancePath: "",
            schemaPath: "#/required",
            keyword: "required",
            params: { missingProperty: "version" },
            message: "must have required property 'version'",
          },
        ],
      },
    ];
    source.start((event) => ({ event, runs: [], skipped: [], rejected }));
    let caught: unknown;
    try {
      source.receive("deploy", {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LocalAgentError);
    expect(caught).toMatchObject({
      code: "payload_invalid",
      message: `event "deploy" payload refused, no run started: workflow "release": payload must have required property 'version'`,
      details: { event: "deploy", rejected },
    });
  });

  it("answers unavailable (retryable) while not started", () => {
    const source = new HttpEventSource();
    expect(() => source.receive("deploy", {})).toThrow(expect.objectContaining({ code: "unavailable", retryable: true }));
  });
});
