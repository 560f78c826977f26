import { describe, expect, it } from "vitest";
import { createFeishuChannel } from "./feishu-channel.js";
import { feishuOptionsFromPlatform, redactProxy } from "./feishu-options.js";

const auth = { app_id: "cli_a1b2c3d4e5f6a7b8", app_secret: "secret" };

describe("feishuOptionsFromPlatform", () => {
  it("reads the seed's entry: feishu domain, the SOCKS5 proxy, the long connection by default", () => {
    const options = feishuOptionsFromPlatform({ name: "enterprise_im", kind: "feishu", auth, proxy: "socks5://proxy-server:1080" });
    expect(options).toMatchObject({
      name: "enterprise_im",
      appId: auth.app_id,
      appSecret: "secret",
      baseUrl: "https://open.feishu.cn",
      proxy: "socks5://proxy-server:1080",
      mode: "websocket",
    });
    expect(feishuOptionsFromPlatform({ name: "lark", auth, domain: "lark" }).baseUrl).toBe("https://open.larksuite.com");
    expect(feishuOptionsFromPlatform({ name: "x", auth, domain: "http://127.0.0.1:9000/" }).baseUrl).toBe("http://127.0.0.1:9000");
    expect(feishuOptionsFromPlatform({ name: "x", auth, options: { mode: "webhook" } }).mode).toBe("webhook");
  });

  it("refuses bad entries naming where and what", () => {
    const where = "platforms.json: platforms[1]";
    expect(() => createFeishuChannel({ name: "enterprise_im", where, auth: "BOT_TOKEN" })).toThrow(
      /platforms\.json: platforms\[1\]\.auth: Feishu\/Lark needs \{"app_id"/,
    );
    expect(() => feishuOptionsFromPlatform({ name: "f", where, auth: { app_id: "cli_x" } })).toThrow(/\.auth:/);
    expect(() => feishuOptionsFromPlatform({ name: "f", where, auth, domain: "feishu.example" })).toThrow(
      /platforms\[1\]\.domain: expected feishu, lark/,
    );
    expect(() => feishuOptionsFromPlatform({ name: "f", where, auth, domain: "ftp://x" })).toThrow(/\.domain: expected an http\(s\) URL/);
    expect(() => feishuOptionsFromPlatform({ name: "f", where, auth, proxy: "proxy-server:1080" })).toThrow(
      /\.proxy: expected socks5:\/\/host:port/,
    );
    expect(() => feishuOptionsFromPlatform({ name: "f", where, auth, options: { mode: "poll" } })).toThrow(
      /\.options\.mode: expected websocket or webhook/,
    );
    expect(() =>
      feishuOptionsFromPlatform({ name: "f", where, auth, error: "platforms[1].auth.app_secret: env:LARK_SECRET is not set" }),
    ).toThrow(/env:LARK_SECRET is not set/);
  });

  it("never prints proxy credentials", () => {
    expect(redactProxy("socks5://user:pa55word@127.0.0.1:1080")).toBe("socks5://***@127.0.0.1:1080");
    expect(() => feishuOptionsFromPlatform({ name: "f", auth, proxy: "http://user:pa55word@host" })).toThrow(/^(?!.*pa55word)/);
  });
});
