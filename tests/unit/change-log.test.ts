/** The change log's CSV: RFC 4180 quoting, and a name a spreadsheet would read as a formula kept as text. */
import { describe, expect, it } from "vitest";
import { changeLogCsv } from "../../server/runs/change-log";

describe("changeLogCsv", () => {
  it("quotes commas, quotes and line breaks, and defuses formulas in names", () => {
    const csv = changeLogCsv([
      { at: "2026-12-01T00:00:00.000Z", iteration: 3, who: '=HYPERLINK("x")', kind: "run.pause", what: "paused", from: "running", to: "paused" },
      { at: "2026-12-01T00:00:01.000Z", iteration: null, who: 'Ada, "the"\nfirst', kind: "run.stop", what: "stopped", from: null, to: "stopped" },
    ]);
    expect(csv.split("\r\n")).toEqual([
      "at,iteration,who,kind,what,from,to",
      `2026-12-01T00:00:00.000Z,3,"'=HYPERLINK(""x"")",run.pause,paused,running,paused`,
      `2026-12-01T00:00:01.000Z,,"Ada, ""the""\nfirst",run.stop,stopped,,stopped`,
      "",
    ]);
  });
});
