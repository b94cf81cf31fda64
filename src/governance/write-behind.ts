/**
 * Coalesced write-behind for a Durable Object's in-memory state: changed keys are written together, at most every
 * `intervalMs`, without holding replies until the write is confirmed (`allowUnconfirmed`). A key created and
 * removed within one interval never reaches storage at all.
 */

const UNCONFIRMED = { allowUnconfirmed: true } as const;

export class WriteBehind<T> {
  private readonly changed = new Set<string>();
  private readonly removed = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** The current value of a changed key (undefined when it is gone). */
    private readonly valueOf: (key: string) => T | undefined,
    private readonly intervalMs: number,
  ) {}

  changedKey(key: string): void {
    this.removed.delete(key);
    this.changed.add(key);
    this.schedule();
  }

  removedKey(key: string): void {
    if (!this.changed.delete(key)) this.removed.add(key);
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** Writes every change since the last flush in one batch. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const entries: Record<string, T> = {};
    for (const key of this.changed) {
      const value = this.valueOf(key);
      if (value !== undefined) entries[key] = value;
    }
    const removed = [...this.removed];
    this.changed.clear();
    this.removed.clear();
    await Promise.all([
      Object.keys(entries).length > 0 ? this.storage.put(entries, UNCONFIRMED) : undefined,
      removed.length > 0 ? this.storage.delete(removed, UNCONFIRMED) : undefined,
    ]);
  }
}
