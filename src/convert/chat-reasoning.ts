/** A chat request that names the reasoning field its answer uses (`x-bf-reasoning-field`). */
import { badRequest } from "../http/errors";
import { REASONING_FIELD_CHOICES, REASONING_FIELD_HEADER, isReasoningFieldChoice, type ReasoningFieldChoice } from "../upstream/reasoning-field";

/** The header's choice; undefined when it is absent. An unknown value is a 400, not silently the default. */
export function reasoningFieldRequested(header: string | undefined): ReasoningFieldChoice | undefined {
  if (header === undefined) return undefined;
  const value = header.trim().toLowerCase();
  if (isReasoningFieldChoice(value)) return value;
  throw badRequest(`${REASONING_FIELD_HEADER} must be one of ${REASONING_FIELD_CHOICES.join(", ")}`, "invalid_header", REASONING_FIELD_HEADER);
}
