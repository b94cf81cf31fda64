/**
 * Step 7 of an inference request: once the answer's usage is known (a stream's end), the reservation is swapped
 * for what was used, priced at the target that answered — before the response's last byte reaches the client, so
 * the key's next request sees exact numbers. The log row's usage and cost come from the same figures.
 */
import { settleUsage, type AdmissionTicket, type TokenEstimate } from "../governance/admission";
import { dollars } from "../governance/limiter-denials";
import { costNanos, type MeteredUsage, type Price } from "../governance/pricing";
import type { TraceOutcome } from "../observability/log-row";
import type { Answer } from "../upstream/respond";
import type { Grant } from "./attempt";
import { meteredUsage } from "./charges";

export interface Settlement {
  /** Resolves once the key's Durable Object has applied the usage (at once when nothing was reserved); never rejects. */
  settled: Promise<void>;
  /** Usage and cost for the log row. */
  outcome: Promise<TraceOutcome>;
}

interface Metered extends TraceOutcome {
  charged: MeteredUsage;
}

export function settleAnswer(answer: Answer, ticket: AdmissionTicket | null, price: Price | null, estimate: TokenEstimate, grant: Grant): Settlement {
  const outcome = answer.usage.then((usage): Metered => {
    const charged = meteredUsage(usage, estimate, grant);
    return {
      promptTokens: charged.promptTokens,
      completionTokens: charged.completionTokens,
      cost: dollars(costNanos(price, charged)),
      firstTokenAt: usage.firstTokenAt,
      errorCode: usage.failureCode,
      responseBody: usage.responseBody,
      charged,
    };
  });
  if (!ticket) return { settled: Promise.resolve(), outcome };
  const settled = outcome
    .then((result) => settleUsage(ticket, result.charged, price))
    .catch((error: unknown) => console.error(`settling reservation ${ticket.reservationId} failed:`, error));
  return { settled, outcome };
}
