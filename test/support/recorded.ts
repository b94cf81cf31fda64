/** What the fake vLLM records about each request it receives (shared by Node-side and workerd-side tests). */
export interface RecordedRequest {
  origin: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Set when the client went away before the answer finished. */
  closedEarly?: boolean;
  finished?: boolean;
}

