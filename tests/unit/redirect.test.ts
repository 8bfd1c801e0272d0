/** The sign-in page follows `next` only to a path on this site (app/_lib/redirect.ts). */
import { describe, expect, it } from "vitest";
import { safeNext } from "../../app/_lib/redirect";

describe("safeNext", () => {
  it.each([
    ["/\\evil.example", "a backslash after the slash (browsers read /\\host as //host)"],
    ["//evil.example", "a protocol-relative URL"],
    ["//evil.example/path?x=1", "a protocol-relative URL with a path"],
    ["https://evil.example", "an absolute URL"],
    ["http:/evil.example", "a scheme with one slash"],
    ["javascript:alert(1)", "a javascript: URL"],
    ["/%5Cevil", "a percent-encoded backslash"],
    ["/%5cevil.example", "a lower-case percent-encoded backslash"],
    ["/%2F/evil.example", "a percent-encoded second slash"],
    ["/\tevil", "a tab"],
    ["/\n/evil.example", "a newline"],
    ["/sessions/\u0000", "a NUL"],
    ["/%00", "an encoded NUL"],
    ["/%E0%A4%A", "percent-encoding that does not decode"],
    ["sessions/abc", "a relative path"],
    ["", "nothing"],
    [" /sessions", "a leading space"],
  ])("refuses %j (%s)", (value) => {
    expect(safeNext(value)).toBe("/");
  });

  it("refuses a missing value, an overlong one, and takes the first of several", () => {
    expect(safeNext(undefined)).toBe("/");
    expect(safeNext(null)).toBe("/");
    expect(safeNext(`/${"a".repeat(3000)}`)).toBe("/");
    expect(safeNext(["/sessions/a", "//evil.example"])).toBe("/sessions/a");
    expect(safeNext(["//evil.example", "/sessions/a"])).toBe("/");
  });

  it.each([
    "/",
    "/sessions/3f1c2a",
    "/invite/AbC-_123xyz",
    "/sessions/abc?run=42",
    "/sessions/abc?run=42&tab=history#losses",
    "/search?q=a%20b%2Fc",
    "/sessions/abc/runs/new?from=%2Fsessions%2Fabc",
  ])("keeps the same-origin path %j", (value) => {
    expect(safeNext(value)).toBe(value);
  });
});
