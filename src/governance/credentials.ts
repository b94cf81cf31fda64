/**
 * Where a client's virtual key comes from, in Bifrost's order: `x-bf-vk` (any value), then
 * `Authorization: Bearer sk-bf-…`, `x-api-key: sk-bf-…`, `x-goog-api-key: sk-bf-…` (these only with the prefix, so
 * an SDK's placeholder key is not mistaken for one).
 */
export const VIRTUAL_KEY_PREFIX = "sk-bf-";

function withPrefix(value: string | null | undefined): string | undefined {
  return value && value.toLowerCase().startsWith(VIRTUAL_KEY_PREFIX) ? value : undefined;
}

export function presentedVirtualKey(headers: Headers): string | undefined {
  const direct = headers.get("x-bf-vk")?.trim();
  if (direct) return direct;
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1]?.trim();
  return withPrefix(bearer) ?? withPrefix(headers.get("x-api-key")?.trim()) ?? withPrefix(headers.get("x-goog-api-key")?.trim());
}

/** A bearer or x-api-key value that is not a virtual key (an SDK placeholder — or a key's id or name sent by mistake). */
export function otherCredential(headers: Headers): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1]?.trim();
  const value = bearer || headers.get("x-api-key")?.trim();
  return value && !value.toLowerCase().startsWith(VIRTUAL_KEY_PREFIX) ? value : undefined;
}
