/**
 * What a model's chat template adds to a prompt beyond the estimate, learned from the origin's own counts.
 *
 * The prompt estimate allows 4 tokens of template a message and 3 for the reply. Real templates often add more — a
 * default system header with dates, role markers of several tokens — and a reservation short of the real prompt is
 * the one way a limit can be exceeded. So each isolate remembers, per served model, the largest shortfall it has
 * seen on short chat prompts (where the template, not the text, makes the difference) and adds it to the prompt of
 * later reservations for that model: after a model's first answers, short prompts are reserved at their real size.
 * Plain state, bounded: at most MAX_OVERHEAD_TOKENS a model, MAX_MODELS models.
 */

import type { UsageReport } from "../upstream/respond";

/** Prompts estimated above this are not learned from: their shortfall is the text's tokenization, not the template. */
const SHORT_PROMPT_TOKENS = 512;
/** Templates add tens of tokens; a larger shortfall (an image counted low, say) must not inflate every request. */
const MAX_OVERHEAD_TOKENS = 256;
const MAX_MODELS = 1000;

const overheads = new Map<string, number>();

/** Requests the origin renders through its chat template. */
const CHAT_TEMPLATED: ReadonlySet<string> = new Set(["chat_completion", "chat_completion_stream", "responses", "responses_stream"]);

export function isChatTemplated(requestType: string): boolean {
  return CHAT_TEMPLATED.has(requestType);
}

/** The name overheads are kept under: the provider and the model name the origin serves. */
export function templateModel(provider: string, servedModel: string): string {
  return `${provider}/${servedModel}`;
}

/** Extra prompt tokens to reserve for a chat request served by `model` (`provider/served name`). */
export function templateOverhead(model: string): number {
  return overheads.get(model) ?? 0;
}

/** Notes the origin's prompt count for a chat request whose prompt was estimated at `estimated` tokens. */
export function learnTemplateOverhead(model: string, estimated: number, reported: number): void {
  if (estimated > SHORT_PROMPT_TOKENS || !(reported > estimated)) return;
  const shortfall = Math.min(MAX_OVERHEAD_TOKENS, Math.ceil(reported - estimated));
  const known = overheads.get(model);
  if (known !== undefined && known >= shortfall) return;
  if (known === undefined && overheads.size >= MAX_MODELS) overheads.delete(overheads.keys().next().value as string);
  overheads.set(model, shortfall);
}

/** Learns from a chat answer's usage once it is known, if the origin reported its prompt count. */
export function learnFromUsage(usage: Promise<UsageReport>, model: string, estimated: number): void {
  usage.then(
    (report) => {
      if (!report.estimated && !report.unreported) learnTemplateOverhead(model, estimated, report.promptTokens);
    },
    () => undefined,
  );
}

/** Forgets what was learned (tests start from a cold isolate). */
export function forgetTemplateOverheads(): void {
  overheads.clear();
}
