/** Starts the fake vLLM, the OTLP collector stand-in and the alert receiver for the Worker tests and hands their addresses to them. */
import type { TestProject } from "vitest/node";
import { FakeVllm, refusedUrl } from "./fake-vllm";
import { OtlpCollector } from "./otlp-collector";
import { AlertReceiver } from "./alert-receiver";

declare module "vitest" {
  export interface ProvidedContext {
    fakeVllmUrl: string;
    refusedUrl: string;
    otlpCollectorUrl: string;
    alertReceiverUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const fake = new FakeVllm();
  project.provide("fakeVllmUrl", await fake.start());
  project.provide("refusedUrl", await refusedUrl());
  const collector = new OtlpCollector();
  project.provide("otlpCollectorUrl", await collector.start());
  const receiver = new AlertReceiver();
  project.provide("alertReceiverUrl", await receiver.start());
  return async () => {
    await fake.stop();
    await collector.stop();
    await receiver.stop();
  };
}
