/** Starts the fake vLLM for the Worker tests and hands its address to them. */
import type { TestProject } from "vitest/node";
import { FakeVllm, refusedUrl } from "./fake-vllm";

declare module "vitest" {
  export interface ProvidedContext {
    fakeVllmUrl: string;
    refusedUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const fake = new FakeVllm();
  project.provide("fakeVllmUrl", await fake.start());
  project.provide("refusedUrl", await refusedUrl());
  return () => fake.stop();
}
