/**
 * Responses API state kept by the gateway: a conversation continues through previous_response_id whichever replica
 * answers each turn, stored responses are readable, listable and deletable by the key that made them and by no one
 * else, and store: false keeps nothing.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { LLAMA, configure, errorOf, gateway, origin, received, virtualKey } from "./helpers";

/** The key's provider, answered by one replica (origin) that the test picks per turn. */
async function replica(name: string): Promise<void> {
  await configure({ vllm: { keys: [{ name, models: ["*"], vllm_key_config: { url: origin(name) } }] } });
}

interface Turn {
  status: number;
  body: Record<string, unknown>;
  text: string;
  /** The chat messages the origin received. */
  sent: { role: string; content: unknown }[];
  origin: string | undefined;
}

async function turn(key: string, body: Record<string, unknown>): Promise<Turn> {
  const requestId = crypto.randomUUID();
  const ctx = createExecutionContext();
  const request = new Request("http://gateway.test/v1/responses", {
    method: "POST",
    headers: { "content-type": "application/json", "x-bf-vk": key, "x-request-id": requestId },
    body: JSON.stringify({ model: `vllm/${LLAMA}`, ...body }),
  });
  const response = await buildApp().fetch(request, env, ctx);
  const text = await response.text();
  // The response is stored from waitUntil.
  await waitOnExecutionContext(ctx);
  const [seen] = await received(requestId);
  const parsed = response.headers.get("content-type")?.includes("json") ? (JSON.parse(text) as Record<string, unknown>) : {};
  return { status: response.status, body: parsed, text, sent: seen ? ((JSON.parse(seen.body) as { messages: Turn["sent"] }).messages ?? []) : [], origin: seen?.origin };
}

function read(key: string, path: string, method = "GET"): Promise<Response> {
  return gateway(path, { method, headers: { "x-bf-vk": key } });
}

let alice = "";
let bob = "";

beforeAll(async () => {
  await replica("replica-a");
  alice = await virtualKey("responses-alice", { provider_configs: [{ provider: "vllm" }] });
  bob = await virtualKey("responses-bob", { provider_configs: [{ provider: "vllm" }] });
});

describe("stored responses", () => {
  it("continue a three-turn conversation with a different replica answering each turn", async () => {
    await replica("replica-a");
    const first = await turn(alice, { input: "first question", instructions: "be brief" });
    expect(first.status).toBe(200);
    expect(first.origin).toBe("replica-a");

    await replica("replica-b");
    const second = await turn(alice, { input: "second question", previous_response_id: first.body.id });
    expect(second.status).toBe(200);
    expect(second.origin).toBe("replica-b");
    expect(second.body.previous_response_id).toBe(first.body.id);

    await replica("replica-c");
    const third = await turn(alice, { input: [{ role: "user", content: "third question" }], previous_response_id: second.body.id });
    expect(third.origin).toBe("replica-c");
    // The third replica saw the whole conversation; instructions are not carried over (as in OpenAI's API).
    const textOf = (content: unknown) => (typeof content === "string" ? content : (content as { text: string }[]).map((part) => part.text).join(""));
    expect(third.sent.map((message) => [message.role, textOf(message.content)])).toEqual([
      ["user", "first question"],
      ["assistant", "You said: first question"],
      ["user", "second question"],
      ["assistant", "You said: second question"],
      ["user", "third question"],
    ]);
    await replica("replica-a");
  });

  it("are read, listed and deleted by the key that made them, and by no one else", async () => {
    const made = await turn(alice, { input: "remember me" });
    const id = String(made.body.id);
    const got = await read(alice, `/v1/responses/${id}`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(made.body);

    const items = (await (await read(alice, `/v1/responses/${id}/input_items`)).json()) as Record<string, unknown>;
    // OpenAI's list shape: ids, and a message's text as content parts.
    expect(items).toEqual({
      object: "list",
      data: [{ id: `item_${id}_0`, type: "message", role: "user", status: "completed", content: [{ type: "input_text", text: "remember me" }] }],
      first_id: `item_${id}_0`,
      last_id: `item_${id}_0`,
      has_more: false,
    });

    for (const path of [`/v1/responses/${id}`, `/v1/responses/${id}/input_items`]) {
      const other = await read(bob, path);
      expect(other.status).toBe(404);
      expect((await errorOf(other)).code).toBe("response_not_found");
    }
    const continued = await turn(bob, { input: "steal it", previous_response_id: id });
    expect(continued.status).toBe(404);
    expect((JSON.parse(continued.text) as { error: { code: string } }).error.code).toBe("previous_response_not_found");

    expect((await read(bob, `/v1/responses/${id}`, "DELETE")).status).toBe(404);
    const deleted = await read(alice, `/v1/responses/${id}`, "DELETE");
    expect(await deleted.json()).toEqual({ id, object: "response", deleted: true });
    expect((await read(alice, `/v1/responses/${id}`)).status).toBe(404);
  });

  it("keep a streamed response as it completed, and nothing with store: false", async () => {
    const streamed = await turn(alice, { input: "stream this", stream: true });
    expect(streamed.status).toBe(200);
    const completed = streamed.text
      .split("\n\n")
      .find((event) => event.startsWith("event: response.completed"))
      ?.split("data: ")[1];
    const final = JSON.parse(completed ?? "{}") as { response: { id: string } };
    const stored = await read(alice, `/v1/responses/${final.response.id}`);
    expect(stored.status).toBe(200);
    expect(await stored.json()).toEqual(final.response);

    const unkept = await turn(alice, { input: "forget this", store: false });
    expect(unkept.body.store).toBe(false);
    expect((await read(alice, `/v1/responses/${String(unkept.body.id)}`)).status).toBe(404);
  });
});
