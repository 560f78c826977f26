import { describe, expect, it } from "vitest";
import { compileGlob, globBase } from "./glob.js";

function matching(glob: string, paths: string[]): string[] {
  const matches = compileGlob(glob);
  return paths.filter((path) => matches(path));
}

describe("compileGlob", () => {
  it("* and ? stay within one name", () => {
    expect(matching("/var/log/*.log", ["/var/log/a.log", "/var/log/x/a.log", "/var/log/a.log.1", "/var/log/.log"])).toEqual([
      "/var/log/a.log",
    ]);
    expect(matching("/d/file?.txt", ["/d/file1.txt", "/d/file12.txt", "/d/file/.txt"])).toEqual(["/d/file1.txt"]);
    expect(matching("/d/*", ["/d/a", "/d/a/b", "/d/.hidden"])).toEqual(["/d/a"]);
  });

  it("** spans any number of folders, none included", () => {
    const paths = ["/srv/a.log", "/srv/x/a.log", "/srv/x/y/z/a.log", "/srv/x/a.txt", "/srv/.git/a.log", "/other/a.log"];
    expect(matching("/srv/**/*.log", paths)).toEqual(["/srv/a.log", "/srv/x/a.log", "/srv/x/y/z/a.log"]);
    expect(matching("/srv/**", paths)).toEqual(["/srv/a.log", "/srv/x/a.log", "/srv/x/y/z/a.log", "/srv/x/a.txt"]);
    expect(matching("/srv/*/a.log", paths)).toEqual(["/srv/x/a.log"]);
  });

  it("[…] sets, ranges and negations; everything else is literal", () => {
    expect(matching("/d/[ab].txt", ["/d/a.txt", "/d/b.txt", "/d/c.txt"])).toEqual(["/d/a.txt", "/d/b.txt"]);
    expect(matching("/d/v[0-9]", ["/d/v1", "/d/vx"])).toEqual(["/d/v1"]);
    expect(matching("/d/[!a]*", ["/d/abc", "/d/bcd", "/d/.x"])).toEqual(["/d/bcd"]);
    expect(matching("/d/a+b(1).txt", ["/d/a+b(1).txt", "/d/aab1.txt"])).toEqual(["/d/a+b(1).txt"]);
    expect(matching("/d/[x", ["/d/[x", "/d/x"])).toEqual(["/d/[x"]);
    expect(matching("/d/exact.txt", ["/d/exact.txt", "/d/exactXtxt"])).toEqual(["/d/exact.txt"]);
  });
});

describe("globBase", () => {
  it("is the folder above the first wildcard; recursive when matches can lie deeper", () => {
    expect(globBase("/var/log/*.log")).toEqual({ base: "/var/log", recursive: false });
    expect(globBase("/srv/**/*.log")).toEqual({ base: "/srv", recursive: true });
    expect(globBase("/srv/*/in/*.csv")).toEqual({ base: "/srv", recursive: true });
    expect(globBase("/etc/hosts")).toEqual({ base: "/etc", recursive: false });
    expect(globBase("/*.txt")).toEqual({ base: "/", recursive: false });
  });
});
