import type { Clock } from "../clock/index.js";
import { LocalAgentError } from "../errors/index.js";
import type { Logger } from "../logger/index.js";
import type { PlatformConfig } from "./platform-config.js";
import type { Channel } from "./types.js";

/** What a channel factory gets besides its platform entry. */
export interface ChannelServices {
  logger: Logger;
  clock: Clock;
  /** Asks the outbox to try the channel's pending deliveries now (a web chat client reconnected, a platform came back). */
  wake(): void;
}

/** Builds one adapter from its platform entry. Throwing (a missing token) fails that channel only. */
export type ChannelFactory = (platform: PlatformConfig, services: ChannelServices) => Channel | Promise<Channel>;

const factories = new Map<string, ChannelFactory>();

/**
 * Registers the adapter of a platform kind (`telegram`, `feishu`, `webhook`, `webchat`). Adapters
 * call this when their module is imported (src/channels/builtin.ts imports them all); a later
 * registration of the same kind replaces the earlier one (tests swap in fakes).
 */
export function registerChannelKind(kind: string, factory: ChannelFactory): void {
  factories.set(kind, factory);
}

export function channelKind(kind: string): ChannelFactory | undefined {
  return factories.get(kind);
}

export function channelKinds(): string[] {
  return [...factories.keys()].sort();
}

export async function createChannel(platform: PlatformConfig, services: ChannelServices): Promise<Channel> {
  if (platform.error) throw new LocalAgentError("config_invalid", platform.error);
  const factory = factories.get(platform.kind);
  if (!factory) {
    throw new LocalAgentError(
      "config_invalid",
      `${platform.where}: no adapter for platform kind "${platform.kind}" (known: ${channelKinds().join(", ") || "none"})`,
    );
  }
  return factory(platform, services);
}
