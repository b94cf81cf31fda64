/** The usage of the team and customer a virtual key belongs to, beside the key's own in its quota answers. */
import type { Env } from "../env";
import type { RoutingTable } from "../routing/table";
import { limiterNamed } from "./admission";
import { groupLimiterName, type GroupSummary } from "./groups";
import type { QuotaReport } from "./limits";
import type { VirtualKeyRecord } from "./schema";

export interface GroupUsage {
  id: string;
  name: string;
  usage: QuotaReport | null;
}

/** The key's team and customer (directly, or through the team), as the routing table knows them. */
export function groupsOfKey(table: RoutingTable, vk: Pick<VirtualKeyRecord, "team_id" | "customer_id">): { team: GroupSummary | undefined; customer: GroupSummary | undefined } {
  const team = vk.team_id ? table.groups.get(groupLimiterName("team", vk.team_id)) : undefined;
  const customerId = vk.customer_id ?? team?.customer_id ?? null;
  return { team, customer: customerId ? table.groups.get(groupLimiterName("customer", customerId)) : undefined };
}

async function usageOf(env: Env, group: GroupSummary | undefined): Promise<GroupUsage | null> {
  if (!group) return null;
  return { id: group.id, name: group.name, usage: await limiterNamed(env, groupLimiterName(group.kind, group.id)).quota() };
}

export async function groupUsageOfKey(env: Env, table: RoutingTable, vk: VirtualKeyRecord): Promise<{ team: GroupUsage | null; customer: GroupUsage | null }> {
  const { team, customer } = groupsOfKey(table, vk);
  const [teamUsage, customerUsage] = await Promise.all([usageOf(env, team), usageOf(env, customer)]);
  return { team: teamUsage, customer: customerUsage };
}
