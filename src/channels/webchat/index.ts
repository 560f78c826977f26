export { createWebChatChannel, WebChatChannel } from "./webchat-channel.js";
