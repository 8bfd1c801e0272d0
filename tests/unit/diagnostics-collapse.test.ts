/**
 * The collapse alarm: a forced collapse fires with its evidence; a healthy run, or a single bad epoch, does not.
 */
import { describe, expect, it } from "vitest";
import { CollapseDetector, DEFAULT_COLLAPSE_RULES, type CollapseInput } from "../../lib/gan/diagnostics/collapse";

const healthy: CollapseInput = { diversity: 0.9, minClassDiversity: 0.7, minDiversityLabel: 3, coverage: 10, numLabels: 10, dFakeMean: 0.3 };
const collapsed: CollapseInput = { diversity: 0.05, minClassDiversity: 0.01, minDiversityLabel: 7, coverage: 1, numLabels: 10, dFakeMean: 0.3 };

describe("CollapseDetector", () => {
  it("raises nothing over a healthy run, noisy metrics included", () => {
    const d = new CollapseDetector();
    for (let epoch = 1; epoch <= 50; epoch++) {
      const wobble = Math.sin(epoch) * 0.1;
      expect(d.observe({ ...healthy, diversity: 0.8 + wobble, minClassDiversity: 0.5 + wobble, dFakeMean: 0.2 + wobble }, epoch)).toEqual([]);
    }
    expect(d.active()).toEqual([]);
  });

  it("raises diversity, classDiversity and coverage after `patience` collapsed epochs, with the evidence", () => {
    const d = new CollapseDetector();
    expect(d.observe(healthy, 1)).toEqual([]);
    expect(d.observe(collapsed, 2)).toEqual([]); // one epoch is not enough
    const alarms = d.observe(collapsed, 3);
    expect(alarms.map((a) => a.rule).sort()).toEqual(["classDiversity", "coverage", "diversity"]);
    const coverage = alarms.find((a) => a.rule === "coverage")!;
    expect(coverage).toMatchObject({ epoch: 3, evidence: { metric: "coverage", comparison: "<", threshold: 10, patience: 2, epochs: [2, 3], values: [1, 1] } });
    expect(coverage.message).toMatch(/coverage below 10 for 2 epochs \(1, 1\)/);
    expect(alarms.find((a) => a.rule === "classDiversity")!.evidence).toMatchObject({ label: 7, threshold: 0.25, values: [0.01, 0.01] });
    expect(alarms.find((a) => a.rule === "diversity")!.evidence).toMatchObject({ threshold: 0.5, epochs: [2, 3], values: [0.05, 0.05] });
    expect(d.active().sort()).toEqual(["classDiversity", "coverage", "diversity"]);
    // once per streak: the collapse goes on, nothing new is raised
    expect(d.observe(collapsed, 4)).toEqual([]);
    // recovery clears it; a new collapse raises it again
    expect(d.observe(healthy, 5)).toEqual([]);
    expect(d.active()).toEqual([]);
    d.observe(collapsed, 6);
    expect(
      d
        .observe(collapsed, 7)
        .map((a) => a.rule)
        .sort(),
    ).toEqual(["classDiversity", "coverage", "diversity"]);
  });

  it("a detector restored from a saved state (a resumed run) neither repeats a raised alarm nor loses a streak", () => {
    const lost = { ...healthy, dFakeMean: 0.01 };
    const before = new CollapseDetector();
    before.observe(healthy, 1);
    before.observe(collapsed, 2);
    expect(before.observe(collapsed, 3).length).toBe(3); // diversity, classDiversity, coverage raised
    before.observe(lost, 4); // dFake streak 1 of 3 (the collapse rules' streaks end: lost is otherwise healthy)
    const saved = JSON.parse(JSON.stringify(before.state())) as ReturnType<CollapseDetector["state"]>;

    const resumed = new CollapseDetector();
    resumed.restore(saved);
    expect(resumed.observe(lost, 5)).toEqual([]); // dFake streak 2 of 3
    expect(resumed.observe(lost, 6).map((a) => a.rule)).toEqual(["dFake"]); // on time, with the saved epochs
    const fresh = new CollapseDetector();
    fresh.observe(lost, 5);
    expect(fresh.observe(lost, 6)).toEqual([]); // without the state it would be late

    const raised = new CollapseDetector();
    raised.observe(collapsed, 2);
    raised.observe(collapsed, 3);
    const again = new CollapseDetector();
    again.restore(raised.state());
    expect(again.observe(collapsed, 4)).toEqual([]); // already raised before the resume: not raised twice
    expect(again.active().sort()).toEqual(["classDiversity", "coverage", "diversity"]);
  });

  it("raises dFake only after three epochs of a discriminator that rejects every fake", () => {
    const d = new CollapseDetector();
    const lost = { ...healthy, dFakeMean: 0.01 };
    expect(d.observe(lost, 1)).toEqual([]);
    expect(d.observe(lost, 2)).toEqual([]);
    const alarms = d.observe(lost, 3);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ rule: "dFake", evidence: { metric: "dFakeMean", threshold: 0.05, epochs: [1, 2, 3] } });
  });

  it("breaks a streak on a good epoch or a missing value, skips warm-up epochs, and takes custom rules", () => {
    const d = new CollapseDetector();
    d.observe(collapsed, 1);
    d.observe({ ...collapsed, coverage: Number.NaN, diversity: 0.9, minClassDiversity: 0.9 }, 2);
    expect(d.observe(collapsed, 3)).toEqual([]);
    const warm = new CollapseDetector({ warmupEpochs: 2 });
    expect(warm.observe(collapsed, 1)).toEqual([]);
    expect(warm.observe(collapsed, 2)).toEqual([]);
    expect(warm.observe(collapsed, 3)).toEqual([]);
    expect(warm.observe(collapsed, 4)).toHaveLength(3);
    const strict = new CollapseDetector({ rules: [{ ...DEFAULT_COLLAPSE_RULES.rules[0]!, threshold: 0.95, patience: 1 }] });
    expect(strict.observe(healthy, 1).map((a) => a.rule)).toEqual(["diversity"]);
    expect(() => new CollapseDetector({ rules: [{ ...DEFAULT_COLLAPSE_RULES.rules[0]!, patience: 0 }] })).toThrow(/patience/);
  });
});
