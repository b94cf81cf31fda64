/**
 * Hono apps with the one router each needs. `new Hono()` bundles SmartRouter, which tries RegExpRouter and falls
 * back to TrieRouter app by app; choosing here keeps that machinery out of the Worker. The inference surface
 * precompiles its routes into one RegExpRouter match per request; the admin API, which has a static segment beside
 * a parameter at one level (`…/virtual-keys/quota` and `…/virtual-keys/:id`), and route groups (whose routes are
 * copied into the app they are mounted on) use TrieRouter, which takes any mix.
 */
import { HonoBase } from "hono/hono-base";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { TrieRouter } from "hono/router/trie-router";
import type { AppEnv } from "../env";

export type App = HonoBase<AppEnv>;

class TrieApp extends HonoBase<AppEnv> {
  constructor() {
    super();
    this.router = new TrieRouter();
  }
}

class RegExpApp extends HonoBase<AppEnv> {
  constructor() {
    super();
    this.router = new RegExpRouter();
  }
}

/** An app or route group matched by a trie. */
export function routeGroup(): App {
  return new TrieApp();
}

/** An app whose routes are matched by one precompiled regular expression. */
export function regExpApp(): App {
  return new RegExpApp();
}
