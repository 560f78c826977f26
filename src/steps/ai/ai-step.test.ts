import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ModelServer } from "../../../test/helpers/model-servers.js";
import { systemClock } from "../../clock/index.js";
import { Engine, type StepServices } from "../../engine/index.js";
import { EventBus } from "../../events/index.js";
import { createSilentLogger } from "../../logger/index.js";
import { ModelService } from "../../models/index.js";
import { Outbox } from "../../outbox/index.js";
import { MemoryStore } from "../../store/index.js";
import { formatIssue, loadWorkflowText } from "../../workflow/index.js";
import { createDefaultRegistry } from "../index.js";

describe("the ai step", () => {
  const server = new ModelServer("openai");
  const registry = createDefaultRegistry();
  const store = new MemoryStore();
  const logger = createSilentLogger();
  const events = new EventBus();
  let models: ModelService;

  beforeAll(async () => {
    await server.start();
    models = new ModelService({
      initial: {
        models: { coder: { provider: "openai", base_url: server.url, model: "m", max_retries: 0 } },
        routing: { code_gen: ["coder"] },
      },
      configDir: "/tmp",
    });
  });
  afterAll(async () => {
    await models.close();
    await server.stop();
  });
  afterEach(() => server.reset());

  function engine(withModels: ModelService | undefined): Engine {
    const services: StepServices = {
      clock: systemClock,
      logger,
      events,
      deliveries: new Outbox({ store, clock: systemClock, events, logger, deliverers: [] }),
      settings: { maxOutputBytes: 1 << 20, notificationPlatforms: {}, workspaceDir: "/tmp" },
      ...(withModels ? { models: withModels } : {}),
    };
    return new Engine({ store, registry, services });
  }

  async function run(yaml: string, withModels: ModelService | null = models) {
    const loaded = loadWorkflowText("test.yaml", yaml, registry);
    expect(loaded.issues.map(formatIssue)).toEqual([]);
    const workflow = loaded.workflows[0]!;
    const runner = engine(withModels ?? undefined);
    const record = await runner.run(workflow, runner.createRun(workflow, { trigger: "manual", inputs: { file: "backup.sh" } }).id);
    return { record, steps: store.getSteps(record.id) };
  }

  const workflow = (step: string): string => `workflow:
  name: ai_test
  trigger: manual
  inputs:
    file: { type: string }
  tasks:
    - name: ask
      type: ai
${step
  .split("\n")
  .map((line) => `      ${line}`)
  .join("\n")}
`;

  it("renders prompt and system templates, sends the parameters, and outputs text, model, usage and cached", async () => {
    server.reply({ text: "Looks safe.", usage: { input: 20, output: 3 } });
    const { record, steps } = await run(
      workflow(
        'model: code_gen\nsystem: "You review {{ inputs.file }}"\nprompt: "Review {{ inputs.file }}"\ntemperature: 0.1\nmax_tokens: 64',
      ),
    );
    expect(record.status).toBe("succeeded");
    expect(steps[0]!.output).toEqual({
      text: "Looks safe.",
      model: "coder",
      usage: { input_tokens: 20, output_tokens: 3 },
      cached: false,
      finish_reason: "stop",
    });
    expect(server.requests[0]!.body).toMatchObject({
      messages: [
        { role: "system", content: "You review backup.sh" },
        { role: "user", content: "Review backup.sh" },
      ],
      temperature: 0.1,
      max_tokens: 64,
    });
  });

  it("parses a JSON answer (fenced or not) and validates it against the json: schema", async () => {
    server.reply({ text: '```json\n{"risk": "low", "issues": []}\n```' });
    const ok = await run(
      workflow(
        'prompt: "rate it"\ncache: false\njson:\n  type: object\n  required: [risk]\n  properties:\n    risk: { enum: [low, high] }\n    issues: { type: array }',
      ),
    );
    expect(ok.record.status).toBe("succeeded");
    expect((ok.steps[0]!.output as { json: unknown }).json).toEqual({ risk: "low", issues: [] });
    expect(server.requests[0]!.body.response_format).toMatchObject({ type: "json_schema" });

    server.reply({ text: '{"risk": "unknown"}' });
    const mismatch = await run(
      workflow('prompt: "rate it"\ncache: false\njson:\n  type: object\n  properties:\n    risk: { enum: [low, high] }'),
    );
    expect(mismatch.record.status).toBe("failed");
    expect(mismatch.steps[0]!.error).toContain("does not match json: answer/risk must be equal to one of the allowed values");

    server.reply({ text: "I think it is fine" });
    const prose = await run(workflow('prompt: "rate it"\ncache: false\njson: true'));
    expect(prose.steps[0]!.error).toContain('model "coder" did not answer with JSON');
  });

  it("fails with the no-provider message when no model is configured", async () => {
    const { record, steps } = await run(workflow('model: code_gen\nprompt: "hi"'), null);
    expect(record.status).toBe("failed");
    expect(steps[0]!.error).toContain('no model provider configured: step "ask" asks for model "code_gen"');
  });

  it("refuses tools: until the agent loop is there, rather than answering without them", async () => {
    const { steps } = await run(workflow('prompt: "hi"\ntools: [shell]'));
    expect(steps[0]!.error).toContain("tools: needs the agent loop");
    expect(server.requests).toHaveLength(0);
  });
});
