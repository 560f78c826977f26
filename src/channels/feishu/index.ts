export {
  createFeishuChannel,
  FeishuChannel,
  MAX_CALLBACK_BYTES,
  type CallbackResponse,
  type FeishuChannelServices,
} from "./feishu-channel.js";
export {
  FEISHU_DOMAINS,
  feishuOptionsFromPlatform,
  redactProxy,
  resolveDomain,
  type FeishuChannelOptions,
  type FeishuPlatform,
} from "./feishu-options.js";
export { decryptEvent, eventSignature } from "./event-crypto.js";
export { parseFeishuEvent, MalformedEventError, type FeishuEvent } from "./event-parser.js";
export { splitText } from "./text-split.js";
export { createJsonClient, type JsonRequest, type JsonResponse } from "./http-client.js";

/** The platform kinds this adapter serves (`platforms[].name` or `type:`). */
export const FEISHU_KINDS = ["enterprise_im", "feishu", "lark"] as const;
